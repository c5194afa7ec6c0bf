package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// ServicesService manages services and folders under admin/services.
type ServicesService service

// ServiceRef names one service: an optional folder, a name and a type.
type ServiceRef struct {
	// Folder is the folder name; "" (or "/") is the root folder.
	Folder string
	// Name is the service name, e.g. "CachingTools".
	Name string
	// Type is the service type, e.g. "MapServer" or "GPServer".
	Type string
}

// Path returns the admin-relative, escaped path of the service:
// "services/[<folder>/]<name>.<type>".
func (r ServiceRef) Path() string { return r.pathWith("") }

// pathWith returns Path() + suffix, built in one allocation.
func (r ServiceRef) pathWith(suffix string) string {
	name, typ := url.PathEscape(r.Name), url.PathEscape(r.Type)
	if isRoot(r.Folder) {
		return "services/" + name + "." + typ + suffix
	}
	return "services/" + url.PathEscape(r.Folder) + "/" + name + "." + typ + suffix
}

// String returns "[<folder>/]<name>.<type>" unescaped, for messages.
func (r ServiceRef) String() string {
	if isRoot(r.Folder) {
		return r.Name + "." + r.Type
	}
	return r.Folder + "/" + r.Name + "." + r.Type
}

// isRoot reports whether folder names the root folder.
func isRoot(folder string) bool { return folder == "" || folder == "/" }

// folderPath returns "services/" or "services/<folder>/", escaped.
func folderPath(folder string) string {
	if isRoot(folder) {
		return "services/"
	}
	return "services/" + url.PathEscape(folder) + "/"
}

// invalid returns a KindInvalid error. Nothing was sent, so Method and
// Path stay empty; method is accepted only to keep call sites readable.
func invalid(op, msg string) *Error {
	return &Error{Kind: KindInvalid, Op: op, Messages: []string{msg}}
}

// checkSegment reports why s cannot be a path segment, or "" if it can.
func checkSegment(what, s string) string {
	switch s {
	case "":
		return what + " is empty"
	case ".", "..":
		return what + " must not be " + strconv.Quote(s)
	}
	return ""
}

// checkFolder validates a non-root folder name.
func checkFolder(op, folder string) error {
	if isRoot(folder) {
		return invalid(op, "folder name is empty (the root folder cannot be used here)")
	}
	if msg := checkSegment("folder name", folder); msg != "" {
		return invalid(op, msg)
	}
	return nil
}

// check validates r before it is used to build a path.
func (r ServiceRef) check(op string) error {
	if !isRoot(r.Folder) {
		if msg := checkSegment("folder name", r.Folder); msg != "" {
			return invalid(op, msg)
		}
	}
	if msg := checkSegment("service name", r.Name); msg != "" {
		return invalid(op, msg)
	}
	if msg := checkSegment("service type", r.Type); msg != "" {
		return invalid(op, msg)
	}
	return nil
}

// FolderListing is the root folder or a folder resource.
type FolderListing struct {
	// FolderName is the folder's name as sent ("/" for the root folder).
	FolderName string
	// Description is the folder description.
	Description string
	// ID is the folder id sent by newer servers, "" otherwise.
	ID string
	// WebEncrypted reports whether the folder requires HTTPS.
	WebEncrypted bool
	// IsDefault is true for the System and Utilities folders.
	IsDefault bool
	// Folders lists sub-folder names (root only).
	Folders []string
	// FoldersDetail describes the sub-folders (root only).
	FoldersDetail []FolderInfo
	// Services lists the services in the folder.
	Services []ServiceSummary
}

// UnmarshalJSON decodes the upstream folder JSON tolerantly: in one pass
// (decodeListingFast) when it has the usual shape, else by json.Unmarshal.
func (l *FolderListing) UnmarshalJSON(b []byte) error {
	if fast, ok := decodeListingFast(b); ok {
		*l = fast
		return nil
	}
	var w folderListingWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*l = w.listing()
	return nil
}

// folderListingWire is the wire shape of FolderListing. Its nested types
// have no UnmarshalJSON of their own, so that one json.Unmarshal decodes a
// whole listing in a single pass (nested unmarshalers that call
// json.Unmarshal again make the decoder validate the same bytes once per
// level: three times slower on a 200-service folder).
type folderListingWire struct {
	FolderName    jsonText             `json:"folderName"`
	Description   jsonText             `json:"description"`
	ID            jsonText             `json:"id"`
	WebEncrypted  jsonBool             `json:"webEncrypted"`
	IsDefault     jsonBool             `json:"isDefault"`
	Folders       []jsonText           `json:"folders"`
	FoldersDetail []folderInfoWire     `json:"foldersDetail"`
	Services      []serviceSummaryWire `json:"services"`
}

func (w *folderListingWire) listing() FolderListing {
	l := FolderListing{
		FolderName:   string(w.FolderName),
		Description:  string(w.Description),
		ID:           string(w.ID),
		WebEncrypted: bool(w.WebEncrypted),
		IsDefault:    bool(w.IsDefault),
	}
	for _, f := range w.Folders {
		l.Folders = append(l.Folders, string(f))
	}
	if w.FoldersDetail != nil {
		l.FoldersDetail = make([]FolderInfo, len(w.FoldersDetail))
		for i := range w.FoldersDetail {
			l.FoldersDetail[i] = w.FoldersDetail[i].info()
		}
	}
	if w.Services != nil {
		l.Services = make([]ServiceSummary, len(w.Services))
		for i := range w.Services {
			l.Services[i] = w.Services[i].summary()
		}
	}
	return l
}

// FolderInfo describes a folder in the root listing's foldersDetail.
type FolderInfo struct {
	// FolderName is the folder name.
	FolderName string
	// Description is the folder description.
	Description string
	// ID is the folder id sent by newer servers, "" otherwise.
	ID string
	// WebEncrypted reports whether the folder requires HTTPS.
	WebEncrypted bool
	// IsDefault is true for the System and Utilities folders.
	IsDefault bool
}

// UnmarshalJSON decodes the upstream JSON tolerantly.
func (f *FolderInfo) UnmarshalJSON(b []byte) error {
	var w folderInfoWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = w.info()
	return nil
}

// folderInfoWire is the wire shape of FolderInfo.
type folderInfoWire struct {
	FolderName   jsonText `json:"folderName"`
	Description  jsonText `json:"description"`
	ID           jsonText `json:"id"`
	WebEncrypted jsonBool `json:"webEncrypted"`
	IsDefault    jsonBool `json:"isDefault"`
}

func (w *folderInfoWire) info() FolderInfo {
	return FolderInfo{string(w.FolderName), string(w.Description), string(w.ID), bool(w.WebEncrypted), bool(w.IsDefault)}
}

// ServiceSummary is one entry of a folder's services list.
type ServiceSummary struct {
	// FolderName is the folder; "" for the root (upstream "/" is
	// normalised to "").
	FolderName string
	// ServiceName is the service name.
	ServiceName string
	// Type is the service type (from "type", or "serviceType" when "type"
	// is absent).
	Type string
	// Description is the service description.
	Description string
	// ID is the service id sent by newer servers, "" otherwise.
	ID string
}

// Ref returns the ServiceRef of s.
func (s ServiceSummary) Ref() ServiceRef {
	return ServiceRef{Folder: s.FolderName, Name: s.ServiceName, Type: s.Type}
}

// UnmarshalJSON decodes the upstream JSON tolerantly.
func (s *ServiceSummary) UnmarshalJSON(b []byte) error {
	var w serviceSummaryWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = w.summary()
	return nil
}

// serviceSummaryWire is the wire shape of ServiceSummary.
type serviceSummaryWire struct {
	FolderName  jsonText  `json:"folderName"`
	ServiceName jsonText  `json:"serviceName"`
	Type        *jsonText `json:"type"`
	ServiceType jsonText  `json:"serviceType"`
	Description jsonText  `json:"description"`
	ID          jsonText  `json:"id"`
}

func (w *serviceSummaryWire) summary() ServiceSummary {
	s := ServiceSummary{
		FolderName:  string(w.FolderName),
		ServiceName: string(w.ServiceName),
		Type:        string(w.ServiceType),
		Description: string(w.Description),
		ID:          string(w.ID),
	}
	if w.Type != nil && *w.Type != "" {
		s.Type = string(*w.Type)
	}
	if s.FolderName == "/" {
		s.FolderName = ""
	}
	return s
}

// ServiceStatus is a service's status resource.
type ServiceStatus struct {
	// ConfiguredState is "STARTED" or "STOPPED".
	ConfiguredState string
	// RealTimeState is "STARTED", "STOPPED", "STARTING", "STOPPING" or
	// "FAILED"/"UNKNOWN" on some servers.
	RealTimeState string
}

// UnmarshalJSON decodes the upstream JSON tolerantly.
func (s *ServiceStatus) UnmarshalJSON(b []byte) error {
	var w struct {
		ConfiguredState jsonText `json:"configuredState"`
		RealTimeState   jsonText `json:"realTimeState"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = ServiceStatus{string(w.ConfiguredState), string(w.RealTimeState)}
	return nil
}

// ListRoot returns the root folder: its sub-folders and root services.
// The listing is shared, as ListFolder's: callers must not modify it.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/services/
//
//upstream:operation GET services
func (s *ServicesService) ListRoot(ctx context.Context) (*FolderListing, error) {
	var l FolderListing
	if err := s.client.getShared(ctx, "services.listRoot", "services", nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// ListFolder returns a folder and the services in it.
//
// The listing is shared with the concurrent callers of the same read
// (coalescing): callers must not modify it.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/folder/
//
//upstream:operation GET services/{folder}
func (s *ServicesService) ListFolder(ctx context.Context, folder string) (*FolderListing, error) {
	const op = "services.listFolder"
	if err := checkFolder(op, folder); err != nil {
		return nil, err
	}
	var l FolderListing
	if err := s.client.getShared(ctx, op, "services/"+url.PathEscape(folder), nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CreateFolder creates a folder with a description. It never sends
// webEncrypted, which createFolder does not take; use EditFolder for it.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/createfolder/
//
//upstream:operation POST services/createFolder
func (s *ServicesService) CreateFolder(ctx context.Context, folder, description string) error {
	const op = "services.createFolder"
	if err := checkFolder(op, folder); err != nil {
		return err
	}
	form := url.Values{"folderName": {folder}, "description": {description}}
	return s.client.post(ctx, op, "services/createFolder", form, nil)
}

// EditFolder sets a folder's description and whether it requires HTTPS.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/editfolder/
//
//upstream:operation POST services/{folder}/editFolder
func (s *ServicesService) EditFolder(ctx context.Context, folder, description string, webEncrypted bool) error {
	const op = "services.editFolder"
	if err := checkFolder(op, folder); err != nil {
		return err
	}
	form := url.Values{"description": {description}, "webEncrypted": {strconv.FormatBool(webEncrypted)}}
	return s.client.post(ctx, op, folderPath(folder)+"editFolder", form, nil)
}

// DeleteFolder deletes a folder and every service in it.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/deletefolder/
//
//upstream:operation POST services/{folder}/deleteFolder
func (s *ServicesService) DeleteFolder(ctx context.Context, folder string) error {
	const op = "services.deleteFolder"
	if err := checkFolder(op, folder); err != nil {
		return err
	}
	return s.client.post(ctx, op, folderPath(folder)+"deleteFolder", nil, nil)
}

// Get returns a service's configuration. Keys the ServiceConfig type does
// not model are kept (ServiceConfig.Raw), so that Edit can send them back.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/service/
//
//upstream:operation GET services/{folder}/{service}.{type}
func (s *ServicesService) Get(ctx context.Context, ref ServiceRef) (*ServiceConfig, error) {
	r := configRead(ref)
	if err := ref.check(r.op); err != nil {
		return nil, err
	}
	var cfg ServiceConfig
	if err := s.client.do(ctx, r, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// configRead and statusRead are the reads of Get and Status, and of
// GetWithStatus; ref must be checked first.
func configRead(ref ServiceRef) *request {
	return &request{op: "services.get", method: http.MethodGet, path: ref.Path()}
}

func statusRead(ref ServiceRef) *request {
	return &request{op: "services.status", method: http.MethodGet, path: ref.pathWith("/status")}
}

// Status returns a service's configured and real-time state.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/service-status/
//
//upstream:operation GET services/{folder}/{service}.{type}/status
func (s *ServicesService) Status(ctx context.Context, ref ServiceRef) (*ServiceStatus, error) {
	r := statusRead(ref)
	if err := ref.check(r.op); err != nil {
		return nil, err
	}
	var st ServiceStatus
	if err := s.client.do(ctx, r, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// GetWithStatus returns a service's configuration and status, read at
// once: what Get and Status return, for the cost of the slower of the two
// and without a goroutine of the caller's per read. The configuration is
// read-only: callers of the same upstream read share what it holds (its
// maps and slices), decoded once. Use Get for a configuration to edit.
func (s *ServicesService) GetWithStatus(ctx context.Context, ref ServiceRef) (*ServiceConfig, *ServiceStatus, error) {
	cr, sr := configRead(ref), statusRead(ref)
	if err := ref.check(cr.op); err != nil {
		return nil, nil, err
	}
	cr.shared, sr.shared = true, true // read-only for GetWithStatus's callers
	var (
		cfg ServiceConfig
		st  ServiceStatus
	)
	err := s.client.doAll(ctx, call{cr, &cfg}, call{sr, &st})
	if err != nil {
		return nil, nil, err
	}
	return &cfg, &st, nil
}

// Create creates a service in folder ("" for the root) from cfg, sent as
// the JSON form field "service".
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/createservice/
//
//upstream:operation POST services/{folder}/createService
func (s *ServicesService) Create(ctx context.Context, folder string, cfg *ServiceConfig) error {
	const op = "services.create"
	if !isRoot(folder) {
		if msg := checkSegment("folder name", folder); msg != "" {
			return invalid(op, msg)
		}
	}
	form, err := serviceForm(op, cfg)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, folderPath(folder)+"createService", form, nil)
}

// Edit replaces a service's configuration with cfg (the full JSON is sent
// as the form field "service", including the keys cfg.Raw keeps). The
// upstream restarts the service.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/editservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/edit
func (s *ServicesService) Edit(ctx context.Context, ref ServiceRef, cfg *ServiceConfig) error {
	const op = "services.edit"
	if err := ref.check(op); err != nil {
		return err
	}
	form, err := serviceForm(op, cfg)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, ref.Path()+"/edit", form, nil)
}

// EditAsync is Edit sent with the site's asynchronous flag (runAsync=true,
// or async=true with FlavorKubernetes): a site that runs it asynchronously
// answers at once with the id of a job to follow (SystemJobs.Get, or
// KubernetesJobs.Get with FlavorKubernetes), which EditAsync returns. A
// site that does not answers when the edit is done, without a job id:
// EditAsync then returns "" and the edit is complete. Like Edit, it is a
// write. The other methods named ...Async behave the same way
// (docs/upstream.md#asynchronous-operations).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/editservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/edit
func (s *ServicesService) EditAsync(ctx context.Context, ref ServiceRef, cfg *ServiceConfig) (jobID string, err error) {
	const op = "services.edit"
	if err := ref.check(op); err != nil {
		return "", err
	}
	form, err := serviceForm(op, cfg)
	if err != nil {
		return "", err
	}
	return s.postAsync(ctx, op, ref.Path()+"/edit", form)
}

// CreateAsync is Create sent with the site's asynchronous flag: it
// returns the id of the job that creates the service, or "" when the site
// answered once the service was created (see EditAsync).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/createservice/
//
//upstream:operation POST services/{folder}/createService
func (s *ServicesService) CreateAsync(ctx context.Context, folder string, cfg *ServiceConfig) (jobID string, err error) {
	const op = "services.create"
	if !isRoot(folder) {
		if msg := checkSegment("folder name", folder); msg != "" {
			return "", invalid(op, msg)
		}
	}
	form, err := serviceForm(op, cfg)
	if err != nil {
		return "", err
	}
	return s.postAsync(ctx, op, folderPath(folder)+"createService", form)
}

// DeleteAsync is Delete sent with the site's asynchronous flag (see
// EditAsync).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/deleteservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/delete
func (s *ServicesService) DeleteAsync(ctx context.Context, ref ServiceRef) (jobID string, err error) {
	return s.serviceOpAsync(ctx, "services.delete", ref, "delete")
}

// StartAsync is Start sent with the site's asynchronous flag (see
// EditAsync).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/startservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/start
func (s *ServicesService) StartAsync(ctx context.Context, ref ServiceRef) (jobID string, err error) {
	return s.serviceOpAsync(ctx, "services.start", ref, "start")
}

// StopAsync is Stop sent with the site's asynchronous flag (see
// EditAsync).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/stopservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/stop
func (s *ServicesService) StopAsync(ctx context.Context, ref ServiceRef) (jobID string, err error) {
	return s.serviceOpAsync(ctx, "services.stop", ref, "stop")
}

// DeleteFolderAsync is DeleteFolder sent with the site's asynchronous flag
// (see EditAsync): deleting a folder deletes every service in it.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/deletefolder/
//
//upstream:operation POST services/{folder}/deleteFolder
func (s *ServicesService) DeleteFolderAsync(ctx context.Context, folder string) (jobID string, err error) {
	const op = "services.deleteFolder"
	if err := checkFolder(op, folder); err != nil {
		return "", err
	}
	return s.postAsync(ctx, op, folderPath(folder)+"deleteFolder", nil)
}

// StartManyAsync is StartMany sent with the site's asynchronous flag (see
// EditAsync).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/startservices/
//
//upstream:operation POST services/startServices
func (s *ServicesService) StartManyAsync(ctx context.Context, refs []ServiceRef) (jobID string, err error) {
	return s.manyOpAsync(ctx, "services.startServices", refs, "startServices")
}

// StopManyAsync is StopMany sent with the site's asynchronous flag (see
// EditAsync).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/stopservices/
//
//upstream:operation POST services/stopServices
func (s *ServicesService) StopManyAsync(ctx context.Context, refs []ServiceRef) (jobID string, err error) {
	return s.manyOpAsync(ctx, "services.stopServices", refs, "stopServices")
}

// postAsync POSTs a write with the asynchronous flag of the client's
// flavor (runAsync=true or async=true, never both) and returns the job id
// the site answered with, "" when it answered synchronously. The id is
// returned as received: the jobs services check it before they build a
// path from it.
func (s *ServicesService) postAsync(ctx context.Context, op, path string, form url.Values) (string, error) {
	if form == nil {
		form = url.Values{}
	}
	form.Set(s.client.asyncParam(), "true")
	var w struct {
		JobID jsonText `json:"jobid"`
	}
	if err := s.client.post(ctx, op, path, form, &w); err != nil {
		return "", err
	}
	return string(w.JobID), nil
}

// serviceForm encodes cfg as the "service" form field.
func serviceForm(op string, cfg *ServiceConfig) (url.Values, error) {
	if cfg == nil {
		return nil, invalid(op, "service configuration is nil")
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		e := invalid(op, "service configuration cannot be encoded")
		e.Err = err
		return nil, e
	}
	return url.Values{"service": {string(b)}}, nil
}

// Delete deletes a service.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/deleteservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/delete
func (s *ServicesService) Delete(ctx context.Context, ref ServiceRef) error {
	return s.serviceOp(ctx, "services.delete", ref, "delete")
}

// Start starts a service.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/startservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/start
func (s *ServicesService) Start(ctx context.Context, ref ServiceRef) error {
	return s.serviceOp(ctx, "services.start", ref, "start")
}

// Stop stops a service.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/stopservice/
//
//upstream:operation POST services/{folder}/{service}.{type}/stop
func (s *ServicesService) Stop(ctx context.Context, ref ServiceRef) error {
	return s.serviceOp(ctx, "services.stop", ref, "stop")
}

// StartMany starts several services with one request.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/startservices/
//
//upstream:operation POST services/startServices
func (s *ServicesService) StartMany(ctx context.Context, refs []ServiceRef) error {
	return s.manyOp(ctx, "services.startServices", refs, "startServices")
}

// StopMany stops several services with one request.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/stopservices/
//
//upstream:operation POST services/stopServices
func (s *ServicesService) StopMany(ctx context.Context, refs []ServiceRef) error {
	return s.manyOp(ctx, "services.stopServices", refs, "stopServices")
}

// manyService is one service of the `services` parameter of the batch
// operations; the root folder is "".
type manyService struct {
	FolderName  string `json:"folderName"`
	ServiceName string `json:"serviceName"`
	Type        string `json:"type"`
}

// manyOp POSTs a batch operation (startServices, stopServices) over refs:
// services={"services":[{"folderName","serviceName","type"}...]}.
func (s *ServicesService) manyOp(ctx context.Context, op string, refs []ServiceRef, name string) error {
	form, err := manyForm(op, refs)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, "services/"+name, form, nil)
}

// manyOpAsync is manyOp sent with the asynchronous flag (postAsync).
func (s *ServicesService) manyOpAsync(ctx context.Context, op string, refs []ServiceRef, name string) (string, error) {
	form, err := manyForm(op, refs)
	if err != nil {
		return "", err
	}
	return s.postAsync(ctx, op, "services/"+name, form)
}

// manyForm is the form of a batch operation over refs.
func manyForm(op string, refs []ServiceRef) (url.Values, error) {
	if len(refs) == 0 {
		return nil, invalid(op, "no services")
	}
	list := make([]manyService, len(refs))
	for i, r := range refs {
		if err := r.check(op); err != nil {
			return nil, err
		}
		folder := r.Folder
		if isRoot(folder) {
			folder = ""
		}
		list[i] = manyService{FolderName: folder, ServiceName: r.Name, Type: r.Type}
	}
	b, err := json.Marshal(struct {
		Services []manyService `json:"services"`
	}{list})
	if err != nil {
		return nil, invalid(op, err.Error())
	}
	return url.Values{"services": {string(b)}}, nil
}

// serviceOp POSTs a parameterless operation on a service.
func (s *ServicesService) serviceOp(ctx context.Context, op string, ref ServiceRef, name string) error {
	if err := ref.check(op); err != nil {
		return err
	}
	return s.client.post(ctx, op, ref.Path()+"/"+name, nil, nil)
}

// serviceOpAsync is serviceOp sent with the asynchronous flag (postAsync).
func (s *ServicesService) serviceOpAsync(ctx context.Context, op string, ref ServiceRef, name string) (string, error) {
	if err := ref.check(op); err != nil {
		return "", err
	}
	return s.postAsync(ctx, op, ref.Path()+"/"+name, nil)
}

// ServiceConfig is a service's configuration (the service resource, and the
// "service" JSON of createService and edit).
//
// Decoding is tolerant: integers may arrive as numbers or numeric strings,
// booleans as true/false or "true"/"false", and property values that
// arrive unquoted become their text. Raw keeps every key exactly as
// received; MarshalJSON writes the typed fields over Raw, so that keys this
// type does not model (jsonProperties, portalProperties,
// frameworkProperties, datasets, ...) survive an edit unchanged. A typed
// field still equal to what was decoded is written back byte for byte; a
// typed field that was absent and is still zero is left out.
type ServiceConfig struct {
	ServiceName  string // "serviceName"
	Type         string // "type", e.g. "MapServer"
	Description  string // "description"
	Capabilities string // "capabilities", e.g. "Map,Query,Data"
	ClusterName  string // "clusterName", e.g. "default"

	MinInstancesPerNode   int // "minInstancesPerNode"
	MaxInstancesPerNode   int // "maxInstancesPerNode"
	InstancesPerContainer int // "instancesPerContainer"

	MaxWaitTime    int // "maxWaitTime", seconds
	MaxIdleTime    int // "maxIdleTime", seconds
	MaxUsageTime   int // "maxUsageTime", seconds
	MaxStartupTime int // "maxStartupTime", seconds

	RecycleInterval  int    // "recycleInterval", hours
	RecycleStartTime string // "recycleStartTime", e.g. "00:00"
	LoadBalancing    string // "loadBalancing", e.g. "ROUND_ROBIN"
	IsolationLevel   string // "isolationLevel", "HIGH" or "LOW"
	Provider         string // "provider", e.g. "ArcObjects11", "DMaps"
	ID               string // "id"

	Private bool // "private"

	// Properties are the service properties ("properties"); upstream values
	// are strings even when numeric or boolean.
	Properties map[string]string
	// Extensions are the server object extensions ("extensions").
	Extensions []Extension

	// src is the object as received (see Raw).
	src json.RawMessage
	// received is the digest of src (ReceivedDigest).
	received digest
}

// UnmarshalJSON decodes a service configuration in one pass and keeps the
// object as received, for Raw and MarshalJSON: usually by
// decodeServiceConfigFast (servicedecode.go), else by decodeJSON.
func (c *ServiceConfig) UnmarshalJSON(b []byte) error {
	if fast, ok := decodeServiceConfigFast(b); ok {
		*c = fast
		return nil
	}
	return c.decodeJSON(b)
}

// decodeJSON is UnmarshalJSON through encoding/json: for what
// decodeServiceConfigFast hands back.
func (c *ServiceConfig) decodeJSON(b []byte) error {
	var w serviceConfigWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	cfg := ServiceConfig{
		ServiceName:           string(w.ServiceName),
		Type:                  string(w.Type),
		Description:           string(w.Description),
		Capabilities:          string(w.Capabilities),
		ClusterName:           string(w.ClusterName),
		MinInstancesPerNode:   int(w.MinInstancesPerNode),
		MaxInstancesPerNode:   int(w.MaxInstancesPerNode),
		InstancesPerContainer: int(w.InstancesPerContainer),
		MaxWaitTime:           int(w.MaxWaitTime),
		MaxIdleTime:           int(w.MaxIdleTime),
		MaxUsageTime:          int(w.MaxUsageTime),
		MaxStartupTime:        int(w.MaxStartupTime),
		RecycleInterval:       int(w.RecycleInterval),
		RecycleStartTime:      string(w.RecycleStartTime),
		LoadBalancing:         string(w.LoadBalancing),
		IsolationLevel:        string(w.IsolationLevel),
		Provider:              string(w.Provider),
		ID:                    string(w.ID),
		Private:               bool(w.Private),
		Properties:            textMap(w.Properties),
		src:                   bytes.Clone(b),
		received:              digestOf(b),
	}
	if w.Extensions != nil {
		cfg.Extensions = make([]Extension, len(w.Extensions))
		for i, raw := range w.Extensions {
			if err := cfg.Extensions[i].UnmarshalJSON(raw); err != nil {
				return fmt.Errorf("extensions[%d]: %w", i, err)
			}
		}
	}
	*c = cfg
	return nil
}

// serviceConfigWire is the wire shape of ServiceConfig, decoded in one
// pass (its scalar types have no nested objects to decode again).
type serviceConfigWire struct {
	ServiceName           jsonText           `json:"serviceName"`
	Type                  jsonText           `json:"type"`
	Description           jsonText           `json:"description"`
	Capabilities          jsonText           `json:"capabilities"`
	ClusterName           jsonText           `json:"clusterName"`
	MinInstancesPerNode   jsonInt            `json:"minInstancesPerNode"`
	MaxInstancesPerNode   jsonInt            `json:"maxInstancesPerNode"`
	InstancesPerContainer jsonInt            `json:"instancesPerContainer"`
	MaxWaitTime           jsonInt            `json:"maxWaitTime"`
	MaxIdleTime           jsonInt            `json:"maxIdleTime"`
	MaxUsageTime          jsonInt            `json:"maxUsageTime"`
	MaxStartupTime        jsonInt            `json:"maxStartupTime"`
	RecycleInterval       jsonInt            `json:"recycleInterval"`
	RecycleStartTime      jsonText           `json:"recycleStartTime"`
	LoadBalancing         jsonText           `json:"loadBalancing"`
	IsolationLevel        jsonText           `json:"isolationLevel"`
	Provider              jsonText           `json:"provider"`
	ID                    jsonText           `json:"id"`
	Private               jsonBool           `json:"private"`
	Properties            map[string]anyText `json:"properties"`
	Extensions            []json.RawMessage  `json:"extensions"`
}

// Raw returns every key of the configuration exactly as received, nil for
// a configuration that was not decoded from upstream JSON. Each call
// decodes the kept bytes again: it is for edits, not for every read.
func (c *ServiceConfig) Raw() map[string]json.RawMessage { return rawObject(c.src) }

// MarshalJSON encodes the configuration: Raw, with the typed fields
// written over it in the upstream's key spelling.
func (c ServiceConfig) MarshalJSON() ([]byte, error) {
	e := newObjectEncoder(c.Raw())
	e.text("serviceName", c.ServiceName)
	e.text("type", c.Type)
	e.text("description", c.Description)
	e.text("capabilities", c.Capabilities)
	e.text("clusterName", c.ClusterName)
	e.int("minInstancesPerNode", c.MinInstancesPerNode)
	e.int("maxInstancesPerNode", c.MaxInstancesPerNode)
	e.int("instancesPerContainer", c.InstancesPerContainer)
	e.int("maxWaitTime", c.MaxWaitTime)
	e.int("maxIdleTime", c.MaxIdleTime)
	e.int("maxUsageTime", c.MaxUsageTime)
	e.int("maxStartupTime", c.MaxStartupTime)
	e.int("recycleInterval", c.RecycleInterval)
	e.text("recycleStartTime", c.RecycleStartTime)
	e.text("loadBalancing", c.LoadBalancing)
	e.text("isolationLevel", c.IsolationLevel)
	e.text("provider", c.Provider)
	e.text("id", c.ID)
	e.bool("private", c.Private)
	e.props("properties", c.Properties)
	if key, _, had := e.lookup("extensions"); had || c.Extensions != nil {
		e.put(key, c.Extensions)
	}
	return e.marshal()
}

// Extension is a server object extension of a service (e.g. FeatureServer
// on a MapServer).
type Extension struct {
	// TypeName is "typeName", e.g. "FeatureServer", "KmlServer".
	TypeName string
	// Capabilities is "capabilities", e.g. "Query,Create,Update".
	Capabilities string
	// Enabled is "enabled"; upstream sends "true"/"false" strings or
	// booleans, and a changed value is written in the form received.
	Enabled bool
	// Properties are the extension's properties (string values).
	Properties map[string]string
	// src is the object as received (see Raw).
	src json.RawMessage
}

// UnmarshalJSON decodes an extension in one pass and keeps the object as
// received, for Raw and MarshalJSON.
func (x *Extension) UnmarshalJSON(b []byte) error {
	var w struct {
		TypeName     jsonText           `json:"typeName"`
		Capabilities jsonText           `json:"capabilities"`
		Enabled      jsonBool           `json:"enabled"`
		Properties   map[string]anyText `json:"properties"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*x = Extension{
		TypeName:     string(w.TypeName),
		Capabilities: string(w.Capabilities),
		Enabled:      bool(w.Enabled),
		Properties:   textMap(w.Properties),
		src:          bytes.Clone(b),
	}
	return nil
}

// Raw returns every key of the extension exactly as received, nil for an
// extension that was not decoded from upstream JSON.
func (x *Extension) Raw() map[string]json.RawMessage { return rawObject(x.src) }

// MarshalJSON encodes the extension: Raw, with the typed fields written
// over it.
func (x Extension) MarshalJSON() ([]byte, error) {
	e := newObjectEncoder(x.Raw())
	e.text("typeName", x.TypeName)
	e.text("capabilities", x.Capabilities)
	if key, _, had := e.lookup("enabled"); had {
		e.bool(key, x.Enabled)
	} else {
		e.put("enabled", x.Enabled) // always sent: the upstream needs it
	}
	e.props("properties", x.Properties)
	return e.marshal()
}
