package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// runAll runs calls at once and reports each error.
func runAll(t *testing.T, calls []func() error) {
	t.Helper()
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
}

// restCall is a REST request as a call of runAll (an error unless 200).
func (e *env) restCall(ctx context.Context, method, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, method, e.rest+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return nil
}

// Concurrent updates of different properties of one service, half over
// gRPC and half over REST, each a read-modify-write of the whole upstream
// definition, among reads of the service: every update is kept.
func TestConcurrentServiceUpdatesAllKept(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	const n = 100
	calls := make([]func() error, n)
	for i := range n {
		key, val := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		if i%2 == 0 {
			calls[i] = func() error {
				_, err := done[adminv1.Service](c, e.conn)(e.services.UpdateService(c, &adminv1.UpdateServiceRequest{
					Service:    &adminv1.Service{Name: "services/SampleWorldCities.MapServer", Properties: map[string]string{key: val}},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"properties." + key}},
				}))
				return err
			}
			continue
		}
		calls[i] = func() error {
			return e.restCall(c, http.MethodPatch, "/v1/services/SampleWorldCities.MapServer?updateMask=properties."+key,
				`{"properties":{"`+key+`":"`+val+`"}}`)
		}
	}
	// Reads meanwhile: a write must not modify what a read in flight
	// fetched before the previous write.
	for i := range n / 2 {
		calls = append(calls, func() error {
			if i%2 == 0 {
				_, err := e.services.GetService(c, &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
				return err
			}
			return e.restCall(c, http.MethodGet, "/v1/services/SampleWorldCities.MapServer", "")
		})
	}
	runAll(t, calls)
	waitAllOps(t, c, e.conn) // the REST updates returned their operations at once
	got, err := e.services.GetService(c, &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i := range n {
		if v := got.GetProperties()[fmt.Sprintf("k%d", i)]; v != fmt.Sprintf("v%d", i) {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d concurrent property updates were lost", lost, n)
	}
}

// Concurrent updates of different fields of one item info, and of its
// thumbnail (an edit of the same upstream item info), over gRPC and REST:
// every one of them is kept.
func TestConcurrentItemInfoUpdatesAllKept(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	client := adminv1.NewItemInfoServiceClient(e.conn)
	const svc = "services/SampleWorldCities.MapServer"
	type field struct {
		mask, json string // the mask path (proto name) and the REST body
		set        func(*adminv1.ItemInfo)
		check      func(*adminv1.ItemInfo) bool
	}
	str := func(mask, jsonName string, get func(*adminv1.ItemInfo) string, set func(*adminv1.ItemInfo, string)) field {
		val := "new " + mask
		return field{mask, `{"` + jsonName + `":"` + val + `"}`,
			func(ii *adminv1.ItemInfo) { set(ii, val) },
			func(ii *adminv1.ItemInfo) bool { return get(ii) == val }}
	}
	fields := []field{
		str("title", "title", (*adminv1.ItemInfo).GetTitle, func(ii *adminv1.ItemInfo, v string) { ii.Title = v }),
		str("summary", "summary", (*adminv1.ItemInfo).GetSummary, func(ii *adminv1.ItemInfo, v string) { ii.Summary = v }),
		str("snippet", "snippet", (*adminv1.ItemInfo).GetSnippet, func(ii *adminv1.ItemInfo, v string) { ii.Snippet = v }),
		str("description", "description", (*adminv1.ItemInfo).GetDescription, func(ii *adminv1.ItemInfo, v string) { ii.Description = v }),
		str("access_information", "accessInformation", (*adminv1.ItemInfo).GetAccessInformation, func(ii *adminv1.ItemInfo, v string) { ii.AccessInformation = v }),
		str("license_info", "licenseInfo", (*adminv1.ItemInfo).GetLicenseInfo, func(ii *adminv1.ItemInfo, v string) { ii.LicenseInfo = v }),
		str("documentation", "documentation", (*adminv1.ItemInfo).GetDocumentation, func(ii *adminv1.ItemInfo, v string) { ii.Documentation = v }),
		{"tags", `{"tags":["new tag"]}`, func(ii *adminv1.ItemInfo) { ii.Tags = []string{"new tag"} },
			func(ii *adminv1.ItemInfo) bool { return len(ii.GetTags()) == 1 && ii.GetTags()[0] == "new tag" }},
		{"type_keywords", `{"typeKeywords":["new keyword"]}`, func(ii *adminv1.ItemInfo) { ii.TypeKeywords = []string{"new keyword"} },
			func(ii *adminv1.ItemInfo) bool {
				return len(ii.GetTypeKeywords()) == 1 && ii.GetTypeKeywords()[0] == "new keyword"
			}},
	}
	gif := testGIF(t)
	calls := []func() error{func() error {
		_, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{Name: svc + "/itemInfo/thumbnail",
			Thumbnail: &httpbody.HttpBody{ContentType: "image/gif", Data: gif}})
		return err
	}}
	for i, f := range fields {
		if i%2 == 0 {
			calls = append(calls, func() error {
				ii := &adminv1.ItemInfo{Name: svc + "/itemInfo"}
				f.set(ii)
				_, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{ItemInfo: ii, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{f.mask}}})
				return err
			})
			continue
		}
		calls = append(calls, func() error {
			return e.restCall(c, http.MethodPatch, "/v1/"+svc+"/itemInfo", f.json) // mask from the body
		})
	}
	runAll(t, calls)
	got, err := client.GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: svc + "/itemInfo"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if !f.check(got) {
			t.Errorf("update of %s was lost", f.mask)
		}
	}
	if th := got.GetThumbnail(); th != "thumbnail/thumbnail.gif" {
		t.Errorf("thumbnail %q: its update was lost", th)
	}
}

// Concurrent updates of the usage statistics settings' three fields, over
// gRPC and REST: every one is kept.
func TestConcurrentUsageSettingsUpdatesAllKept(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	ur := adminv1.NewUsageReportsServiceClient(e.conn)
	update := func(st *adminv1.UsageStatisticsSettings, path string) func() error {
		return func() error {
			_, err := ur.UpdateUsageStatisticsSettings(c, &adminv1.UpdateUsageStatisticsSettingsRequest{UsageStatisticsSettings: st, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{path}}})
			return err
		}
	}
	runAll(t, []func() error{
		update(&adminv1.UsageStatisticsSettings{Enabled: false}, "enabled"),
		func() error {
			return e.restCall(c, http.MethodPatch, "/v1/usageStatisticsSettings", `{"samplingInterval":"900s"}`)
		},
		update(&adminv1.UsageStatisticsSettings{MaxHistory: durationpb.New(90 * 24 * time.Hour)}, "max_history"),
	})
	st, err := ur.GetUsageStatisticsSettings(c, &adminv1.GetUsageStatisticsSettingsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s := st
	if s.GetEnabled() {
		t.Error("update of enabled was lost")
	}
	if s.GetSamplingInterval().AsDuration() != 15*time.Minute {
		t.Errorf("update of sampling_interval was lost: %v", s.GetSamplingInterval().AsDuration())
	}
	if s.GetMaxHistory().AsDuration() != 90*24*time.Hour {
		t.Errorf("update of max_history was lost: %v", s.GetMaxHistory().AsDuration())
	}
}
