package server

import (
	"slices"
	"sync"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

func TestSummaryMemo(t *testing.T) {
	t.Parallel()
	var m summaryMemo
	listing := []upstream.ServiceSummary{{FolderName: "F", ServiceName: "A", Type: "MapServer"}, {FolderName: "F", ServiceName: "B", Type: "GPServer"}}
	a := m.summaries("F", listing)
	b := m.summaries("F", listing)
	if len(a) != 2 || a[0].GetName() != "folders/F/services/A.MapServer" || a[1].GetName() != "folders/F/services/B.GPServer" {
		t.Fatalf("converted %v", a)
	}
	if a[0] != b[0] || a[1] != b[1] {
		t.Error("the same listing was converted again")
	}
	if &a[0] == &b[0] {
		t.Error("two callers share one slice: one's sorting or paging would change the other's")
	}
	// A listing decoded anew (other bytes) converts anew, even if equal.
	again := slices.Clone(listing)
	again[1].ServiceName = "C"
	if c := m.summaries("F", again); c[0] == a[0] || c[1].GetName() != "folders/F/services/C.GPServer" {
		t.Errorf("a new listing got the old services: %v", c)
	}
	// Another folder with the same services is its own entry.
	if d := m.summaries("G", listing); d[0] == a[0] {
		t.Errorf("folder G got %v", d)
	}
	if m.summaries("F", nil) != nil {
		t.Error("an empty listing is not empty")
	}
}

// Many folders and concurrent callers: bounded, and race-free under -race.
func TestSummaryMemoBoundedAndConcurrent(t *testing.T) {
	t.Parallel()
	var m summaryMemo
	listing := []upstream.ServiceSummary{{ServiceName: "A", Type: "MapServer"}}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 * summaryMemoSize {
				folder := string(rune('a'+g)) + string(rune('A'+i%26)) + string(rune('0'+i/26))
				if out := m.summaries(folder, listing); out[0].GetFolder() != folder {
					t.Errorf("folder %s got %v", folder, out[0])
					return
				}
			}
		}()
	}
	wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.m) > summaryMemoSize {
		t.Errorf("%d folders remembered, more than %d", len(m.m), summaryMemoSize)
	}
}
