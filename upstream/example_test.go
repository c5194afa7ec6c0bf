package upstream_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// ExampleServicesService_ListRoot creates a client for a site and lists
// its root folder. The httptest server stands in for ArcGIS Server.
func ExampleServicesService_ListRoot() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		_, _ = io.WriteString(w, `{"folderName":"/","description":"Root folder","folders":["System","Utilities"],
		  "services":[{"folderName":"/","serviceName":"SampleWorldCities","type":"MapServer","description":""}]}`)
	}))
	defer srv.Close()

	client, err := upstream.New(srv.URL+"/arcgis",
		upstream.WithHTTPClient(srv.Client()),
		upstream.WithTokenSource(upstream.StaticToken("operator-token")),
	)
	if err != nil {
		log.Fatal(err)
	}
	root, err := client.Services.ListRoot(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("folders:", root.Folders)
	for _, s := range root.Services {
		fmt.Println("service:", s.Ref().Path())
	}
	// Output:
	// folders: [System Utilities]
	// service: services/SampleWorldCities.MapServer
}

// ExampleNew shows the admin URL derived from the site URL, and how an
// upstream error is inspected.
func ExampleNew() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"error","messages":["Could not find resource or operation 'BZK1.MapServer' on the system."],"code":404}`)
	}))
	defer srv.Close()

	client, err := upstream.New(srv.URL+"/arcgis", upstream.WithHTTPClient(srv.Client()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.AdminURL() == srv.URL+"/arcgis/admin/")

	_, err = client.Services.Get(context.Background(), upstream.ServiceRef{Name: "BZK1", Type: "MapServer"})
	fmt.Println(upstream.IsNotFound(err))
	fmt.Println(err)
	// Output:
	// true
	// true
	// upstream: services.get: GET admin/services/BZK1.MapServer: upstream error code 404: Could not find resource or operation 'BZK1.MapServer' on the system.
}

// ExampleServicesService_GetWithStatus reads a service's configuration and
// its status at once, from the simulator standing in for ArcGIS Server.
func ExampleServicesService_GetWithStatus() {
	srv := httptest.NewServer(simulator.New(simulator.Config{}))
	defer srv.Close()

	client, err := upstream.New(srv.URL+"/arcgis", upstream.WithHTTPClient(srv.Client()),
		upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	cfg, st, err := client.Services.GetWithStatus(context.Background(), upstream.ServiceRef{Name: "SampleWorldCities", Type: "MapServer"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.ServiceName, cfg.Type, st.ConfiguredState, st.RealTimeState)
	// Output:
	// SampleWorldCities MapServer STARTED STARTED
}
