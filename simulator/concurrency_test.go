package simulator_test

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, simulator.Config{ExtraServices: 20})
	const workers = 24
	const rounds = 15
	tok := e.sim.IssueToken(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				q := url.Values{"f": {"json"}, "token": {tok}}
				var r response
				switch (w + i) % 8 {
				case 0:
					r = e.get("services", q)
				case 1:
					r = e.get(fmt.Sprintf("services/Bulk/Bulk_%04d.MapServer", 1+(w+i)%20), q)
				case 2:
					q.Set("folderName", fmt.Sprintf("F%d_%d", w, i))
					r = e.post("services/createFolder", q)
				case 3:
					r = e.post(fmt.Sprintf("services/Bulk/Bulk_%04d.MapServer/stop", 1+w%20), q)
				case 4:
					r = e.post(fmt.Sprintf("services/Bulk/Bulk_%04d.MapServer/start", 1+w%20), q)
				case 5:
					r = e.post("generateToken", credentials())
				case 6:
					q.Set("service", fmt.Sprintf(`{"serviceName":"C%d_%d","type":"MapServer"}`, w, i))
					r = e.post("services/Maps/createService", q)
				case 7:
					q.Set("detail", "true")
					r = e.get("services/Maps", q)
					_ = e.sim.Requests()
					_ = e.sim.IssueToken(time.Minute)
					_ = e.sim.GenerateTokenCount()
				}
				if r.status != 200 {
					errs <- fmt.Errorf("worker %d round %d: status %d", w, i, r.status)
					continue
				}
				if m := r.objectOrNil(); m == nil || m["status"] == "error" {
					errs <- fmt.Errorf("worker %d round %d: %s", w, i, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := e.sim.RequestCount(), workers*rounds; got != want {
		t.Fatalf("RequestCount = %d, want %d", got, want)
	}
	folders := e.getJSON("services")["folders"].([]any)
	if len(folders) < 5+workers*rounds/8 {
		t.Fatalf("only %d folders after concurrent creates", len(folders))
	}
}

// TestSubmitJobWhileCredentialsChange runs SubmitJob, which records the
// administrator as the job's submitter, against SetCredentials (run with
// -race).
func TestSubmitJobWhileCredentialsChange(t *testing.T) {
	sim := simulator.New(simulator.Config{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			sim.SetCredentials(fmt.Sprintf("admin%d", i), "pw")
		}
	})
	wg.Go(func() {
		for range 50 {
			if _, err := sim.SubmitJob("System/PublishingTools.GPServer", ""); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
}
