package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// writeSite is an upstream whose every read answers with the number of
// writes it had completed when the read arrived ("w0", "w1", ...). The
// first GET of each path waits for release; a write (any POST) waits for
// writeGate when it is set, and counts once it is let through.
type writeSite struct {
	mu        sync.Mutex
	gets      map[string]int
	posts     int // POSTs arrived
	writes    int // POSTs done
	release   chan struct{}
	writeGate chan struct{}

	releaseReads, releaseWrites func()
}

func newWriteSite(t *testing.T, gated bool) (*writeSite, *upstream.Client) {
	s := &writeSite{gets: map[string]int{}, release: make(chan struct{})}
	if gated {
		s.writeGate = make(chan struct{})
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/arcgis/admin/")
		if r.Method == http.MethodPost {
			s.mu.Lock()
			s.posts++
			s.mu.Unlock()
			if s.writeGate != nil {
				<-s.writeGate
			}
			s.mu.Lock()
			s.writes++
			s.mu.Unlock()
			if strings.Contains(p, "Failing") {
				_, _ = w.Write([]byte(`{"status":"error","code":500,"messages":["failed half way"]}`))
				return
			}
			_, _ = w.Write([]byte(`{"status":"success"}`))
			return
		}
		s.mu.Lock()
		s.gets[p]++
		first := s.gets[p] == 1
		state := fmt.Sprintf("w%d", s.writes) // what the upstream holds as the read arrives
		s.mu.Unlock()
		if first {
			<-s.release
		}
		switch {
		case p == "services/":
			fmt.Fprintf(w, `{"folderName":"/","description":%q}`, state)
		case strings.HasSuffix(p, "/status"):
			fmt.Fprintf(w, `{"configuredState":"STARTED","realTimeState":%q}`, state)
		default:
			fmt.Fprintf(w, `{"serviceName":"SampleWorldCities","type":"MapServer","description":%q}`, state)
		}
	}))
	var reads, writes sync.Once
	s.releaseReads = func() { reads.Do(func() { close(s.release) }) }
	s.releaseWrites = func() {
		writes.Do(func() {
			if s.writeGate != nil {
				close(s.writeGate)
			}
		})
	}
	t.Cleanup(ts.Close)
	t.Cleanup(s.releaseWrites) // these run first: never leave a handler blocked in Close
	t.Cleanup(s.releaseReads)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func (s *writeSite) getCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.gets {
		n += c
	}
	return n
}

func (s *writeSite) postCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// A read is one way to read a resource, and the upstream GETs it makes.
type read struct {
	name string
	gets int
	do   func(context.Context, *upstream.Client) (string, error)
}

var (
	listRoot = read{"ListRoot", 1, func(ctx context.Context, c *upstream.Client) (string, error) {
		l, err := c.Services.ListRoot(ctx)
		if err != nil {
			return "", err
		}
		return l.Description, nil
	}}
	getWithStatus = read{"GetWithStatus", 2, func(ctx context.Context, c *upstream.Client) (string, error) {
		cfg, st, err := c.Services.GetWithStatus(ctx, ref)
		if err != nil {
			return "", err
		}
		return cfg.Description + "/" + st.RealTimeState, nil
	}}
)

// TestReadAfterWriteStartsAFreshRequest holds a read open upstream while
// a write of each family completes, then reads again: the second read
// must not join the first one's flight (sent before the write), and so
// must see the write. With no write in between, it joins.
func TestReadAfterWriteStartsAFreshRequest(t *testing.T) {
	folderRef := upstream.ServiceRef{Folder: "Maps", Name: "Sample", Type: "MapServer"}
	gp := upstream.ServiceRef{Name: "Tools", Type: "GPServer"}
	report := &upstream.UsageReport{Name: "r1", Since: "LAST_DAY", Queries: []upstream.UsageQuery{{ResourceURIs: []string{"services/"}}}}
	thumb := &upstream.Thumbnail{Name: "t.png", ContentType: "image/png", Data: []byte("png")}
	cases := []struct {
		name    string
		read    read
		write   func(context.Context, *upstream.Client) error // nil: no write
		wantErr bool
	}{
		{"no write: the read joins", listRoot, nil, false},
		{"no write: GetWithStatus joins", getWithStatus, nil, false},
		{"CreateFolder", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.CreateFolder(ctx, "New", "d")
		}, false},
		{"EditFolder", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.EditFolder(ctx, "Maps", "d", true)
		}, false},
		{"DeleteFolder", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.DeleteFolder(ctx, "Maps")
		}, false},
		{"Services.Create", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.Create(ctx, "Maps", &upstream.ServiceConfig{ServiceName: "S", Type: "MapServer"})
		}, false},
		{"Services.Edit", getWithStatus, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.Edit(ctx, ref, &upstream.ServiceConfig{ServiceName: ref.Name, Type: ref.Type, Description: "d"})
		}, false},
		{"Services.Delete", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.Delete(ctx, folderRef)
		}, false},
		{"Services.Start", getWithStatus, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.Start(ctx, ref)
		}, false},
		{"Services.Stop", getWithStatus, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.Stop(ctx, ref)
		}, false},
		{"a write that fails", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Services.Stop(ctx, upstream.ServiceRef{Name: "Failing", Type: "MapServer"})
		}, true},
		{"ItemInfo.Edit", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.ItemInfo.Edit(ctx, ref, &upstream.ItemInfo{Title: "t"}, nil)
		}, false},
		{"ItemInfo.Edit with a thumbnail", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.ItemInfo.Edit(ctx, ref, &upstream.ItemInfo{Title: "t"}, thumb)
		}, false},
		{"UsageReports.Add", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.UsageReports.Add(ctx, report)
		}, false},
		{"UsageReports.Edit", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.UsageReports.Edit(ctx, "r1", report)
		}, false},
		{"UsageReports.Delete", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.UsageReports.Delete(ctx, "r1")
		}, false},
		{"UsageReports.EditSettings", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.UsageReports.EditSettings(ctx, upstream.UsageSettings{Enabled: true, SamplingInterval: 1, MaxHistory: 1})
		}, false},
		{"Roles.Add", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Roles.Add(ctx, "r", "d")
		}, false},
		{"Roles.Update", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Roles.Update(ctx, "r", "d")
		}, false},
		{"Roles.Remove", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Roles.Remove(ctx, "r")
		}, false},
		{"Roles.AssignPrivilege", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Roles.AssignPrivilege(ctx, "r", "PUBLISH")
		}, false},
		{"Roles.AddUsers", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Roles.AddUsers(ctx, "r", []string{"u"})
		}, false},
		{"Roles.RemoveUsers", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Roles.RemoveUsers(ctx, "r", []string{"u"})
		}, false},
		{"Jobs.Cancel", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Jobs.Cancel(ctx, gp, "j1")
		}, false},
		{"Jobs.Delete", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Jobs.Delete(ctx, gp, "j1")
		}, false},
		{"Jobs.PurgeQueue", listRoot, func(ctx context.Context, c *upstream.Client) error {
			return c.Jobs.PurgeQueue(ctx, gp)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site, c := newWriteSite(t, false)
			ctx := context.Background()
			type result struct {
				v   string
				err error
			}
			first := make(chan result, 1)
			go func() { v, err := tc.read.do(ctx, c); first <- result{v, err} }()
			waitFor(t, "the first read upstream", func() bool { return site.getCount() == tc.read.gets })

			want := "w0"
			if tc.write != nil {
				if err := tc.write(ctx, c); (err != nil) != tc.wantErr {
					t.Fatalf("write: %v", err)
				}
				want = "w1"
			}
			if tc.read.gets == 2 {
				want += "/" + want
			}

			second := make(chan result, 1)
			go func() { v, err := tc.read.do(ctx, c); second <- result{v, err} }()
			// The second read either joins the first one's flights or
			// sends requests of its own (which are not held).
			waitFor(t, "the second read to join or be sent", func() bool {
				return site.getCount() == 2*tc.read.gets || upstream.FlightWaiters(c) == 2*tc.read.gets
			})
			site.releaseReads()
			r1, r2 := <-first, <-second
			if r1.err != nil || r2.err != nil {
				t.Fatalf("reads: %v, %v", r1.err, r2.err)
			}
			if r2.v != want {
				t.Errorf("the read issued after the write got %q, want %q (it joined a read sent before the write)", r2.v, want)
			}
			wantGets := tc.read.gets
			if tc.write != nil {
				wantGets *= 2
			}
			if n := site.getCount(); n != wantGets {
				t.Errorf("%d upstream reads, want %d", n, wantGets)
			}
		})
	}
}

// TestReadSentDuringAWriteIsNotJoinedAfterIt: a read sent while a write
// runs may miss the write; a read issued once the write has completed
// must not join it.
func TestReadSentDuringAWriteIsNotJoinedAfterIt(t *testing.T) {
	site, c := newWriteSite(t, true)
	ctx := context.Background()
	wrote := make(chan error, 1)
	go func() { wrote <- c.Services.CreateFolder(ctx, "New", "d") }()
	waitFor(t, "the write upstream", func() bool { return site.postCount() == 1 })

	first := make(chan string, 1)
	go func() { v, _ := listRoot.do(ctx, c); first <- v }()
	waitFor(t, "the read upstream", func() bool { return site.getCount() == 1 })

	site.releaseWrites()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	second := make(chan string, 1)
	go func() { v, _ := listRoot.do(ctx, c); second <- v }()
	waitFor(t, "the second read to join or be sent", func() bool {
		return site.getCount() == 2 || upstream.FlightWaiters(c) == 2
	})
	site.releaseReads()
	if v := <-first; v != "w0" {
		t.Errorf("the read sent during the write got %q, want w0 (the site's state when it arrived)", v)
	}
	if v := <-second; v != "w1" {
		t.Errorf("the read issued after the write got %q, want w1 (it joined a read sent before the write completed)", v)
	}
}
