package upstream_test

import (
	"context"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// A read-modify-write must not read through a flight that began before the
// write it follows: its read, made with FreshRead, is a request of its own.
func TestFreshReadJoinsNoFlight(t *testing.T) {
	site, ts := newBlockingSite(t)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		st  *upstream.ServiceStatus
		err error
	}
	read := func(ctx context.Context) <-chan result {
		ch := make(chan result, 1)
		go func() {
			st, err := c.Services.Status(ctx, ref)
			ch <- result{st, err}
		}()
		return ch
	}
	old := read(context.Background()) // in flight before the "write"
	waitFor(t, "the first read to reach the site", func() bool { return site.requests.Load() == 1 })
	site.answer.Store(`{"configuredState":"STOPPED","realTimeState":"STOPPED"}`) // the write
	fresh := read(upstream.FreshRead(context.Background()))
	waitFor(t, "the fresh read's own request", func() bool { return site.requests.Load() == 2 })
	joined := read(context.Background()) // a plain read still joins a flight
	waitFor(t, "the plain read to join", func() bool { return upstream.FlightWaiters(c) == 2 })
	site.closeRelease()
	for name, ch := range map[string]<-chan result{"old": old, "fresh": fresh, "joined": joined} {
		r := <-ch
		if r.err != nil {
			t.Fatalf("%s read: %v", name, r.err)
		}
		if name == "fresh" && r.st.ConfiguredState != "STOPPED" {
			t.Errorf("fresh read saw %q, want STOPPED (what the site held when it was made)", r.st.ConfiguredState)
		}
	}
	if n := site.requests.Load(); n != 2 {
		t.Errorf("site saw %d requests, want 2 (the plain read joined the first)", n)
	}
}
