package server

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// The handlers tested here with in-memory fakes of the upstream
// interfaces (upstreamapi.go). Each fake embeds its interface, so a method
// a test does not expect panics; it implements only what the tested
// handlers call. Errors are injected per method, as the *upstream.Error
// the real client would return.

// Upstream errors as the client returns them.
var (
	errUpNotFound = &upstream.Error{Kind: upstream.KindAPI, Code: 404, Messages: []string{"not found"}}
	// errUpWriteLost: a write whose request may have reached the upstream
	// and whose answer never arrived.
	errUpWriteLost = &upstream.Error{Kind: upstream.KindTransport, Write: true, Sent: true, Messages: []string{"connection reset"}}
	// errUpWriteNotSent: a write that provably never left.
	errUpWriteNotSent = &upstream.Error{Kind: upstream.KindTransport, Write: true, Messages: []string{"connection refused"}}
	// errUpReadLost: a read whose answer never arrived.
	errUpReadLost = &upstream.Error{Kind: upstream.KindTransport, Messages: []string{"connection reset"}}
)

// fakeCalls records the upstream calls a fake answered.
type fakeCalls struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeCalls) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// count returns how many calls started with prefix.
func (f *fakeCalls) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// popErr returns and removes the first error of *errs, nil when none.
func popErr(errs *[]error) error {
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

// wantStatus checks err's code and ErrorInfo reason (want.reason "" and
// code OK: no error).
func wantStatus(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	if status.Code(err) != code || (reason != "" && reasonOf(err) != reason) {
		t.Fatalf("error %v: want %v with reason %q", err, code, reason)
	}
}

// --- services ---

type fakeServices struct {
	servicesAPI
	fakeCalls
	folders []upstream.FolderInfo
	// listErrs are returned by the next ListRoot calls, editErr by
	// EditFolder.
	listErrs []error
	editErr  error
}

func (f *fakeServices) ListRoot(context.Context) (*upstream.FolderListing, error) {
	f.record("ListRoot")
	if err := popErr(&f.listErrs); err != nil {
		return nil, err
	}
	return &upstream.FolderListing{FolderName: "/", FoldersDetail: append([]upstream.FolderInfo(nil), f.folders...)}, nil
}

func (f *fakeServices) EditFolder(_ context.Context, folder, description string, webEncrypted bool) error {
	f.record("EditFolder " + folder)
	if f.editErr != nil {
		return f.editErr
	}
	for i := range f.folders {
		if f.folders[i].FolderName == folder {
			f.folders[i].Description, f.folders[i].WebEncrypted = description, webEncrypted
			return nil
		}
	}
	return errUpNotFound
}

func TestUpdateFolderFake(t *testing.T) {
	maps := upstream.FolderInfo{FolderName: "Maps", Description: "old", WebEncrypted: false, ID: "f1"}
	for _, tc := range []struct {
		name      string
		folder    *adminv1.Folder
		mask      []string
		fake      *fakeServices
		code      codes.Code
		reason    string
		wantEdits int
		want      upstream.FolderInfo // the folder upstream afterwards
	}{
		{name: "mask applied: only description changes", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/maps", Description: "new", WebEncrypted: true},
			code:   codes.OK, wantEdits: 1, want: upstream.FolderInfo{FolderName: "Maps", Description: "new", ID: "f1"}},
		{name: "mask applied: only web_encrypted changes", mask: []string{"web_encrypted"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "ignored", WebEncrypted: true},
			code:   codes.OK, wantEdits: 1, want: upstream.FolderInfo{FolderName: "Maps", Description: "old", WebEncrypted: true, ID: "f1"}},
		{name: "current etag accepted", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "new", Etag: etagOf(maps)},
			code:   codes.OK, wantEdits: 1, want: upstream.FolderInfo{FolderName: "Maps", Description: "new", ID: "f1"}},
		{name: "etag mismatch: ABORTED, nothing written", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "new", Etag: "stale"},
			code:   codes.Aborted, reason: ReasonEtagMismatch, want: maps},
		{name: "read-only field in mask", mask: []string{"is_default"},
			folder: &adminv1.Folder{Name: "folders/Maps"},
			code:   codes.InvalidArgument, reason: ReasonInvalidArgument, want: maps},
		{name: "folder not listed: NOT_FOUND", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Nope", Description: "new"},
			code:   codes.NotFound, reason: ReasonNotFound, want: maps},
		{name: "upstream 404 on the edit: NOT_FOUND", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "new"},
			fake:   &fakeServices{editErr: errUpNotFound},
			code:   codes.NotFound, reason: ReasonNotFound, wantEdits: 1, want: maps},
		{name: "edit sent, answer lost: outcome unknown", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "new"},
			fake:   &fakeServices{editErr: errUpWriteLost},
			code:   codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown, wantEdits: 1, want: maps},
		{name: "edit never sent: UNAVAILABLE", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "new"},
			fake:   &fakeServices{editErr: errUpWriteNotSent},
			code:   codes.Unavailable, reason: ReasonUpstreamUnavailable, wantEdits: 1, want: maps},
		{name: "first read fails: UNAVAILABLE, nothing written", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "new"},
			fake:   &fakeServices{listErrs: []error{errUpReadLost}},
			code:   codes.Unavailable, reason: ReasonUpstreamUnavailable, want: maps},
		{name: "read-back fails: WRITE_APPLIED", mask: []string{"description"},
			folder: &adminv1.Folder{Name: "folders/Maps", Description: "new"},
			fake:   &fakeServices{listErrs: []error{nil, errUpReadLost}},
			code:   codes.Unavailable, reason: ReasonWriteApplied, wantEdits: 1,
			want: upstream.FolderInfo{FolderName: "Maps", Description: "new", ID: "f1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake
			if f == nil {
				f = &fakeServices{}
			}
			f.folders = []upstream.FolderInfo{maps}
			s := &servicesServer{services: f, locks: statestore.NewMemory()}
			got, err := s.UpdateFolder(context.Background(), &adminv1.UpdateFolderRequest{
				Folder: tc.folder, UpdateMask: &fieldmaskpb.FieldMask{Paths: tc.mask}})
			wantStatus(t, err, tc.code, tc.reason)
			if n := f.count("EditFolder"); n != tc.wantEdits {
				t.Errorf("EditFolder called %d times, want %d", n, tc.wantEdits)
			}
			if f.folders[0] != tc.want {
				t.Errorf("upstream folder %+v, want %+v", f.folders[0], tc.want)
			}
			if err == nil && (got.GetDescription() != tc.want.Description || got.GetWebEncrypted() != tc.want.WebEncrypted ||
				got.GetName() != "folders/Maps" || got.GetEtag() != etagOf(tc.want)) {
				t.Errorf("answer %v, want the folder read back %+v", got, tc.want)
			}
		})
	}
}

// --- item info ---

type fakeItemInfo struct {
	itemInfoAPI
	fakeCalls
	info    upstream.ItemInfo
	getErrs []error
	editErr error
	edited  *upstream.ItemInfo
	lastRef upstream.ServiceRef
}

func (f *fakeItemInfo) Get(_ context.Context, ref upstream.ServiceRef) (*upstream.ItemInfo, error) {
	f.record("Get")
	f.lastRef = ref
	if err := popErr(&f.getErrs); err != nil {
		return nil, err
	}
	c := f.info
	c.Tags = append([]string(nil), f.info.Tags...)
	return &c, nil
}

func (f *fakeItemInfo) Edit(_ context.Context, ref upstream.ServiceRef, info *upstream.ItemInfo, thumb *upstream.Thumbnail) error {
	f.record("Edit")
	f.lastRef = ref
	if f.editErr != nil {
		return f.editErr
	}
	c := *info
	f.edited, f.info = &c, c
	return nil
}

func TestGetItemInfoFake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		errs   []error
		code   codes.Code
		reason string
	}{
		{name: "read", code: codes.OK},
		{name: "upstream 404: NOT_FOUND", errs: []error{errUpNotFound}, code: codes.NotFound, reason: ReasonNotFound},
		{name: "answer lost: UNAVAILABLE", errs: []error{errUpReadLost}, code: codes.Unavailable, reason: ReasonUpstreamUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeItemInfo{info: upstream.ItemInfo{Title: "Roads", Tags: []string{"a", "b"}}, getErrs: tc.errs}
			s := &itemInfoServer{itemInfo: f, locks: statestore.NewMemory()}
			got, err := s.GetItemInfo(context.Background(), &adminv1.GetItemInfoRequest{Name: "folders/Maps/services/Roads.MapServer/itemInfo"})
			wantStatus(t, err, tc.code, tc.reason)
			if want := (upstream.ServiceRef{Folder: "Maps", Name: "Roads", Type: "MapServer"}); f.lastRef != want {
				t.Errorf("upstream asked for %+v, want %+v", f.lastRef, want)
			}
			if err == nil && (got.GetTitle() != "Roads" || strings.Join(got.GetTags(), ",") != "a,b" ||
				got.GetName() != "folders/Maps/services/Roads.MapServer/itemInfo") {
				t.Errorf("answer %v", got)
			}
			if err != nil && !strings.Contains(err.Error(), "folders/Maps/services/Roads.MapServer/itemInfo") {
				t.Errorf("error %v does not name the resource", err)
			}
		})
	}
}

func TestUpdateItemInfoFake(t *testing.T) {
	cur := upstream.ItemInfo{Title: "Roads", Summary: "old summary", Tags: []string{"a"}}
	const name = "services/Roads.MapServer/itemInfo"
	for _, tc := range []struct {
		name    string
		in      *adminv1.ItemInfo
		mask    []string
		fake    *fakeItemInfo
		code    codes.Code
		reason  string
		edits   int
		wantTit string // title upstream afterwards
		wantSum string
	}{
		{name: "mask applied: title only", mask: []string{"title"},
			in:   &adminv1.ItemInfo{Name: name, Title: "Highways", Summary: "ignored"},
			code: codes.OK, edits: 1, wantTit: "Highways", wantSum: "old summary"},
		{name: "etag mismatch: ABORTED", mask: []string{"title"},
			in:   &adminv1.ItemInfo{Name: name, Title: "Highways", Etag: "stale"},
			code: codes.Aborted, reason: ReasonEtagMismatch, wantTit: "Roads", wantSum: "old summary"},
		{name: "upstream 404 on the read: NOT_FOUND", mask: []string{"title"},
			in:   &adminv1.ItemInfo{Name: name, Title: "Highways"},
			fake: &fakeItemInfo{getErrs: []error{errUpNotFound}},
			code: codes.NotFound, reason: ReasonNotFound, wantTit: "Roads", wantSum: "old summary"},
		{name: "edit sent, answer lost: outcome unknown", mask: []string{"title"},
			in:   &adminv1.ItemInfo{Name: name, Title: "Highways"},
			fake: &fakeItemInfo{editErr: errUpWriteLost},
			code: codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown, edits: 1, wantTit: "Roads", wantSum: "old summary"},
		{name: "read-back fails: WRITE_APPLIED", mask: []string{"summary"},
			in:   &adminv1.ItemInfo{Name: name, Summary: "new summary"},
			fake: &fakeItemInfo{getErrs: []error{nil, errUpNotFound}},
			code: codes.NotFound, reason: ReasonWriteApplied, edits: 1, wantTit: "Roads", wantSum: "new summary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake
			if f == nil {
				f = &fakeItemInfo{}
			}
			f.info = cur
			s := &itemInfoServer{itemInfo: f, locks: statestore.NewMemory()}
			got, err := s.UpdateItemInfo(context.Background(), &adminv1.UpdateItemInfoRequest{
				ItemInfo: tc.in, UpdateMask: &fieldmaskpb.FieldMask{Paths: tc.mask}})
			wantStatus(t, err, tc.code, tc.reason)
			if n := f.count("Edit"); n != tc.edits {
				t.Errorf("Edit called %d times, want %d", n, tc.edits)
			}
			if f.info.Title != tc.wantTit || f.info.Summary != tc.wantSum || strings.Join(f.info.Tags, ",") != "a" {
				t.Errorf("upstream item info %+v, want title %q, summary %q, tags kept", f.info, tc.wantTit, tc.wantSum)
			}
			if err == nil && (got.GetTitle() != tc.wantTit || got.GetEtag() != etagOf(&f.info)) {
				t.Errorf("answer %v, want what was read back", got)
			}
		})
	}
}

// --- roles ---

type fakeRoles struct {
	rolesAPI
	fakeCalls
	readOnly  bool
	roles     []upstream.Role
	searchErr error
	updateErr error
}

func (f *fakeRoles) Store(context.Context) (*upstream.RoleStore, error) {
	f.record("Store")
	ro := f.readOnly
	return &upstream.RoleStore{IsReadOnly: &ro}, nil
}

func (f *fakeRoles) Search(_ context.Context, filter string, maxCount int) (*upstream.RolePage, error) {
	f.record("Search " + filter)
	if f.searchErr != nil {
		return nil, f.searchErr
	}
	p := &upstream.RolePage{}
	for _, r := range f.roles {
		if strings.Contains(strings.ToLower(r.Name), strings.ToLower(filter)) {
			p.Roles = append(p.Roles, r)
		}
	}
	return p, nil
}

func (f *fakeRoles) Update(_ context.Context, name, description string) error {
	f.record("Update " + name)
	if f.updateErr != nil {
		return f.updateErr
	}
	for i := range f.roles {
		if f.roles[i].Name == name {
			f.roles[i].Description = description
			return nil
		}
	}
	return errUpNotFound
}

func TestUpdateRoleFake(t *testing.T) {
	editors := upstream.Role{Name: "Editors", Description: "old"}
	for _, tc := range []struct {
		name    string
		role    *adminv1.Role
		fake    *fakeRoles
		code    codes.Code
		reason  string
		updates int
		want    string // description upstream afterwards
	}{
		{name: "updated under its stored spelling", role: &adminv1.Role{Name: "roles/editors", Description: "new"},
			code: codes.OK, updates: 1, want: "new"},
		{name: "current etag accepted", role: &adminv1.Role{Name: "roles/Editors", Description: "new", Etag: etagOf(editors)},
			code: codes.OK, updates: 1, want: "new"},
		{name: "etag mismatch: ABORTED", role: &adminv1.Role{Name: "roles/Editors", Description: "new", Etag: "stale"},
			code: codes.Aborted, reason: ReasonEtagMismatch, want: "old"},
		{name: "read-only store: refused before writing", role: &adminv1.Role{Name: "roles/Editors", Description: "new"},
			fake: &fakeRoles{readOnly: true},
			code: codes.FailedPrecondition, reason: ReasonRoleStoreReadOnly, want: "old"},
		{name: "unknown role: NOT_FOUND", role: &adminv1.Role{Name: "roles/Viewers", Description: "new"},
			code: codes.NotFound, reason: ReasonNotFound, want: "old"},
		{name: "search fails: UNAVAILABLE", role: &adminv1.Role{Name: "roles/Editors", Description: "new"},
			fake: &fakeRoles{searchErr: errUpReadLost},
			code: codes.Unavailable, reason: ReasonUpstreamUnavailable, want: "old"},
		{name: "update sent, answer lost: outcome unknown", role: &adminv1.Role{Name: "roles/Editors", Description: "new"},
			fake: &fakeRoles{updateErr: errUpWriteLost},
			code: codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown, updates: 1, want: "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake
			if f == nil {
				f = &fakeRoles{}
			}
			f.roles = []upstream.Role{editors}
			s := &rolesServer{roles: f, now: time.Now, locks: statestore.NewMemory()}
			got, err := s.UpdateRole(context.Background(), &adminv1.UpdateRoleRequest{
				Role: tc.role, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			wantStatus(t, err, tc.code, tc.reason)
			if n := f.count("Update Editors"); n != tc.updates {
				t.Errorf("Update(Editors) called %d times, want %d", n, tc.updates)
			}
			if f.roles[0].Description != tc.want {
				t.Errorf("upstream description %q, want %q", f.roles[0].Description, tc.want)
			}
			if err == nil && (got.GetName() != "roles/Editors" || got.GetDescription() != tc.want) {
				t.Errorf("answer %v", got)
			}
		})
	}
}

// --- usage reports ---

type fakeUsageReports struct {
	usageReportsAPI
	fakeCalls
	reports map[string]upstream.UsageReport
	getErr  error
}

func (f *fakeUsageReports) Get(_ context.Context, name string) (*upstream.UsageReport, error) {
	f.record("Get " + name)
	if f.getErr != nil {
		return nil, f.getErr
	}
	r, ok := f.reports[name]
	if !ok {
		return nil, errUpNotFound
	}
	return &r, nil
}

func TestGetUsageReportFake(t *testing.T) {
	deep := nestedJSON(maxValueDepth + 5)
	quoted, _ := json.Marshal(deep)
	for _, tc := range []struct {
		name     string
		metadata string // upstream "metadata", raw JSON
		getErr   error
		code     codes.Code
		reason   string
		want     func(t *testing.T, r *adminv1.UsageReport)
	}{
		{name: "shallow object metadata: a struct", metadata: `{"owner":"ops","tags":["x"]}`, code: codes.OK,
			want: func(t *testing.T, r *adminv1.UsageReport) {
				if r.GetMetadata().GetStructValue().GetFields()["owner"].GetStringValue() != "ops" {
					t.Errorf("metadata %v, want the object", r.GetMetadata())
				}
			}},
		{name: "metadata in a JSON string: the object", metadata: `"{\"owner\":\"ops\"}"`, code: codes.OK,
			want: func(t *testing.T, r *adminv1.UsageReport) {
				if r.GetMetadata().GetStructValue().GetFields()["owner"].GetStringValue() != "ops" {
					t.Errorf("metadata %v, want the object", r.GetMetadata())
				}
			}},
		{name: "deep metadata: its JSON text", metadata: deep, code: codes.OK,
			want: func(t *testing.T, r *adminv1.UsageReport) {
				if r.GetMetadata().GetStringValue() != deep {
					t.Errorf("metadata %v, want the JSON text as a string", r.GetMetadata())
				}
			}},
		{name: "deep metadata in a JSON string: its JSON text", metadata: string(quoted), code: codes.OK,
			want: func(t *testing.T, r *adminv1.UsageReport) {
				if r.GetMetadata().GetStringValue() != deep {
					t.Errorf("metadata %v, want the JSON text as a string", r.GetMetadata())
				}
			}},
		{name: "upstream 404: NOT_FOUND", getErr: errUpNotFound, code: codes.NotFound, reason: ReasonNotFound},
		{name: "answer lost: UNAVAILABLE", getErr: errUpReadLost, code: codes.Unavailable, reason: ReasonUpstreamUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeUsageReports{getErr: tc.getErr, reports: map[string]upstream.UsageReport{
				"weekly": {Since: "LAST_WEEK", Metadata: json.RawMessage(tc.metadata)},
			}}
			s := &usageReportsServer{usageReports: f, now: time.Now, locks: statestore.NewMemory()}
			got, err := s.GetUsageReport(context.Background(), &adminv1.GetUsageReportRequest{Name: "usageReports/weekly"})
			wantStatus(t, err, tc.code, tc.reason)
			if err != nil {
				return
			}
			if got.GetName() != "usageReports/weekly" {
				t.Errorf("name %q, want usageReports/weekly", got.GetName())
			}
			tc.want(t, got)
			// The answer must survive a protobuf round trip.
			if _, err := proto.Marshal(got); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		})
	}
}

// --- jobs ---

type fakeJobs struct {
	jobsAPI
	fakeCalls
	jobs      map[string]*upstream.Job
	cancelErr error
}

func (f *fakeJobs) Get(_ context.Context, _ upstream.ServiceRef, id string) (*upstream.Job, error) {
	f.record("Get " + id)
	j, ok := f.jobs[id]
	if !ok {
		return nil, errUpNotFound
	}
	c := *j
	return &c, nil
}

func (f *fakeJobs) Cancel(_ context.Context, _ upstream.ServiceRef, id string) error {
	f.record("Cancel " + id)
	if f.cancelErr != nil {
		return f.cancelErr
	}
	j, ok := f.jobs[id]
	if !ok {
		return errUpNotFound
	}
	switch j.Status {
	case "esriJobSubmitted", "esriJobExecuting":
		j.Status = "esriJobCancelled"
		return nil
	}
	// What upstream answers for a job that is not running.
	return &upstream.Error{Kind: upstream.KindAPI, Code: 500, Write: true, Sent: true,
		Messages: []string{"Unable to cancel job '" + id + "'."}}
}

func TestCancelJobFake(t *testing.T) {
	const id = "j0550714f334d4114af9f7a5d05cb145e"
	const name = "services/Tools.GPServer/jobs/" + id
	for _, tc := range []struct {
		name      string
		status    string // the job's upstream status; "" no job
		cancelErr error
		code      codes.Code
		reason    string
		state     string // "state" in the ErrorInfo, or the job's state in the answer
	}{
		{name: "executing: cancelled", status: "esriJobExecuting", code: codes.OK, state: "JOB_STATE_CANCELLED"},
		{name: "succeeded: FAILED_PRECONDITION", status: "esriJobSucceeded",
			code: codes.FailedPrecondition, reason: ReasonJobNotCancellable, state: "JOB_STATE_SUCCEEDED"},
		{name: "failed: FAILED_PRECONDITION", status: "esriJobFailed",
			code: codes.FailedPrecondition, reason: ReasonJobNotCancellable, state: "JOB_STATE_FAILED"},
		{name: "no such job: NOT_FOUND", code: codes.NotFound, reason: ReasonNotFound},
		{name: "cancel sent, answer lost: outcome unknown", status: "esriJobExecuting", cancelErr: errUpWriteLost,
			code: codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown},
		{name: "cancel never sent: UNAVAILABLE", status: "esriJobExecuting", cancelErr: errUpWriteNotSent,
			code: codes.Unavailable, reason: ReasonUpstreamUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeJobs{jobs: map[string]*upstream.Job{}, cancelErr: tc.cancelErr}
			if tc.status != "" {
				f.jobs[id] = &upstream.Job{ID: id, Status: tc.status}
			}
			s := &jobsServer{jobs: f}
			got, err := s.CancelJob(context.Background(), &adminv1.CancelJobRequest{Name: name})
			wantStatus(t, err, tc.code, tc.reason)
			if f.count("Cancel") != 1 {
				t.Errorf("Cancel called %d times, want 1", f.count("Cancel"))
			}
			switch {
			case err == nil:
				if got.GetJob().GetState().String() != tc.state || got.GetJob().GetName() != name {
					t.Errorf("answer %v, want %s in state %s", got, name, tc.state)
				}
			case tc.state != "":
				if md := errorMetadata(err); md["state"] != tc.state || md["resource"] != name {
					t.Errorf("error metadata %v, want state %s and resource %s", md, tc.state, name)
				}
			}
		})
	}
}

// errorMetadata returns the ErrorInfo metadata of a status error.
func errorMetadata(err error) map[string]string {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()
		}
	}
	return nil
}
