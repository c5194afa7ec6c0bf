package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"

	"github.com/arcgate/arcgate/simulator"
)

// Example starts the simulator behind an HTTP test server, generates a token
// and reads a service's status.
func Example() {
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim)
	defer ts.Close()
	client := ts.Client()
	admin := ts.URL + sim.AdminPath()

	res, err := client.PostForm(admin+"generateToken", url.Values{
		"username": {"admin"}, "password": {"admin-password"},
		"client": {"requestip"}, "expiration": {"30"}, "f": {"json"},
	})
	if err != nil {
		panic(err)
	}
	var tok struct {
		Token   string `json:"token"`
		Expires string `json:"expires"` // a JSON string on the admin endpoint
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	_ = res.Body.Close()
	if err != nil {
		panic(err)
	}

	res, err = client.PostForm(admin+"services/Maps/Roads.MapServer/status", url.Values{
		"token": {tok.Token}, "f": {"json"},
	})
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	var status map[string]string
	if err := json.NewDecoder(res.Body).Decode(&status); err != nil {
		panic(err)
	}
	fmt.Println(res.Header.Get("Content-Type"), status["configuredState"])
	fmt.Println(sim.RequestCount(), sim.Requests()[0].Form.Get("password"))
	// Output:
	// text/plain;charset=UTF-8 STOPPED
	// 2 REDACTED
}
