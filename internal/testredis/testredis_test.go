package testredis

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStart(t *testing.T) {
	s := Start(t)
	// Start saw the server answer with its own process id; another id
	// is refused.
	if err := ping(s.Addr, 0, ""); err == nil {
		t.Fatal("ping accepted a process id that is not the server's")
	}
	if got, want := s.URL(3), "redis://"+s.Addr+"/3"; got != want {
		t.Errorf("URL(3) = %q, want %q", got, want)
	}
}

func TestStartWithPassword(t *testing.T) {
	s := Start(t, "--requirepass", "pw")
	if err := ping(s.Addr, 0, "pw"); err == nil || !strings.Contains(err.Error(), "another redis-server") {
		t.Fatalf("ping with the password = %v, want it to get as far as the process id", err)
	}
	if err := ping(s.Addr, 0, ""); err == nil {
		t.Fatal("ping without the password succeeded")
	}
}
