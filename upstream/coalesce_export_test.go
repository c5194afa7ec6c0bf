package upstream

// FlightWaiters returns how many callers wait on c's flights in all.
func FlightWaiters(c *Client) int {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	n := 0
	for _, f := range c.flights.m {
		n += f.waiters
	}
	return n
}

// Flights returns how many of c's flights run and how many wait in the
// queue (abandoned ones included until a flight's goroutine drops them).
func Flights(c *Client) (running, queued int) {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	return c.flights.running, len(c.flights.queue)
}

// FlightGoroutines returns how many goroutines c has started for flights.
func FlightGoroutines(c *Client) int {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	return c.flights.spawned
}
