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
