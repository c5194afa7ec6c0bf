package server

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// servicesServer implements adminv1.ServicesServiceServer.
type servicesServer struct {
	adminv1.UnimplementedServicesServiceServer
	services servicesAPI
	// upstreamJobs follows the upstream's asynchronous jobs; nil: a
	// write that answers with a job id is read back as if it had answered
	// synchronously.
	upstreamJobs upstreamJobsAPI
	locks        statestore.Locker
	ops          *operations.Manager
}

var _ adminv1.ServicesServiceServer = (*servicesServer)(nil)

// fanOut bounds the upstream calls one RPC makes at once when it needs one
// call per folder or per service.
const fanOut = 4

func itoa(i int) string { return strconv.Itoa(i) }

func (r serviceRef) upstream() upstream.ServiceRef {
	return upstream.ServiceRef{Folder: r.Folder, Name: r.Name, Type: r.Type}
}

// folders returns the site's folders with their settings. Servers that do
// not report foldersDetail get one call per folder.
func (s *servicesServer) folders(ctx context.Context) ([]upstream.FolderInfo, error) {
	root, err := s.services.ListRoot(ctx)
	if err != nil {
		return nil, err
	}
	if len(root.FoldersDetail) > 0 || len(root.Folders) == 0 {
		return root.FoldersDetail, nil
	}
	out := make([]upstream.FolderInfo, len(root.Folders))
	err = forEach(ctx, len(root.Folders), func(ctx context.Context, i int) error {
		l, err := s.services.ListFolder(ctx, root.Folders[i])
		if err != nil {
			return err
		}
		out[i] = upstream.FolderInfo{FolderName: root.Folders[i], Description: l.Description, WebEncrypted: l.WebEncrypted, IsDefault: l.IsDefault, ID: l.ID}
		return nil
	})
	return out, err
}

// findFolder looks a folder up by name, without regard to case as ArcGIS
// does, and returns it with its stored spelling.
func (s *servicesServer) findFolder(ctx context.Context, folder string) (upstream.FolderInfo, error) {
	all, err := s.folders(ctx)
	if err != nil {
		return upstream.FolderInfo{}, err
	}
	for _, f := range all {
		if strings.EqualFold(f.FolderName, folder) {
			return f, nil
		}
	}
	return upstream.FolderInfo{}, notFound(folderResourceName(folder))
}

// ListFolders implements adminv1.ServicesServiceServer.
func (s *servicesServer) ListFolders(ctx context.Context, req *adminv1.ListFoldersRequest) (*adminv1.ListFoldersResponse, error) {
	if _, err := checkPage(req.GetPageSize(), req.GetPageToken(), "folders"); err != nil {
		return nil, err
	}
	all, err := s.folders(ctx)
	if err != nil {
		return nil, Status(err, "folders")
	}
	folders := make([]*adminv1.Folder, 0, len(all))
	for _, f := range all {
		folders = append(folders, folderFromInfo(f))
	}
	page, next, err := paginate(folders, (*adminv1.Folder).GetName, "folders", req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &adminv1.ListFoldersResponse{Folders: page, NextPageToken: next}, nil
}

// GetFolder implements adminv1.ServicesServiceServer.
func (s *servicesServer) GetFolder(ctx context.Context, req *adminv1.GetFolderRequest) (*adminv1.Folder, error) {
	folder, err := parseFolderName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := s.findFolder(ctx, folder)
	if err != nil {
		return nil, Status(err, req.GetName())
	}
	return folderFromInfo(f), nil
}

// CreateFolder implements adminv1.ServicesServiceServer.
func (s *servicesServer) CreateFolder(ctx context.Context, req *adminv1.CreateFolderRequest) (_ *adminv1.Folder, err error) {
	if why := checkArcGISName(req.GetFolderId()); why != "" {
		return nil, invalidArgument("folder_id", why)
	}
	name := folderResourceName(req.GetFolderId())
	desc := req.GetFolder().GetDescription()
	ctx, unlock, err := lockResource(ctx, s.locks, folderLockKey(req.GetFolderId()), name)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	if err := s.services.CreateFolder(ctx, req.GetFolderId(), desc); err != nil {
		return nil, Status(err, name)
	}
	// createFolder has no webEncrypted parameter
	// (docs/upstream.md#services-and-folders): set it with a second call
	// when asked for.
	if req.GetFolder().GetWebEncrypted() {
		if err := s.services.EditFolder(ctx, req.GetFolderId(), desc, true); err != nil {
			// The folder exists: only its encryption flag may be unset.
			return nil, readBackFailed(err, name)
		}
	}
	f, err := s.findFolder(ctx, req.GetFolderId())
	if err != nil {
		return nil, readBackFailed(err, name)
	}
	return folderFromInfo(f), nil
}

// UpdateFolder implements adminv1.ServicesServiceServer.
func (s *servicesServer) UpdateFolder(ctx context.Context, req *adminv1.UpdateFolderRequest) (_ *adminv1.Folder, err error) {
	if req.GetFolder() == nil {
		return nil, invalidArgument("folder", "is required")
	}
	folder, err := parseFolderName("folder.name", req.GetFolder().GetName())
	if err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask().GetPaths(), []string{"description", "web_encrypted"})
	if err != nil {
		return nil, err
	}
	var setDesc, setEnc bool
	for _, p := range paths {
		switch p {
		case "description":
			setDesc = true
		case "web_encrypted":
			setEnc = true
		default:
			return nil, invalidArgument("update_mask", "unknown or read-only field "+quoteName(p)+" (settable: description, web_encrypted)")
		}
	}
	ctx, unlock, err := lockResource(ctx, s.locks, folderLockKey(folder), req.GetFolder().GetName())
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	cur, err := s.findFolder(ctx, folder)
	if err != nil {
		return nil, Status(err, req.GetFolder().GetName())
	}
	if err := checkEtagOf(req.GetFolder().GetEtag(), cur, req.GetFolder().GetName()); err != nil {
		return nil, err
	}
	desc, enc := cur.Description, cur.WebEncrypted
	if setDesc {
		desc = req.GetFolder().GetDescription()
	}
	if setEnc {
		enc = req.GetFolder().GetWebEncrypted()
	}
	if err := s.services.EditFolder(ctx, cur.FolderName, desc, enc); err != nil {
		return nil, Status(err, req.GetFolder().GetName())
	}
	f, err := s.findFolder(ctx, cur.FolderName)
	if err != nil {
		return nil, readBackFailed(err, req.GetFolder().GetName())
	}
	return folderFromInfo(f), nil
}

// DeleteFolder implements adminv1.ServicesServiceServer.
func (s *servicesServer) DeleteFolder(ctx context.Context, req *adminv1.DeleteFolderRequest) (*longrunningpb.Operation, error) {
	folder, err := parseFolderName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	// The refusals come at once; the work checks again under the lock.
	check := func(ctx context.Context) (upstream.FolderInfo, error) {
		cur, err := s.findFolder(ctx, folder)
		if err != nil {
			return cur, Status(err, req.GetName())
		}
		if err := checkEtagOf(req.GetEtag(), cur, req.GetName()); err != nil {
			return cur, err
		}
		if cur.IsDefault {
			return cur, failedPrecondition(ReasonDefaultFolder, req.GetName()+" is a default folder of the site and cannot be deleted",
				map[string]string{"resource": req.GetName()})
		}
		if !req.GetForce() {
			l, err := s.services.ListFolder(ctx, cur.FolderName)
			if err != nil {
				return cur, Status(err, req.GetName())
			}
			if n := len(l.Services); n > 0 {
				return cur, failedPrecondition(ReasonFolderNotEmpty,
					req.GetName()+" holds "+itoa(n)+" services that upstream would delete with it; set force to delete them too",
					map[string]string{"resource": req.GetName(), "serviceCount": itoa(n)})
			}
		}
		return cur, nil
	}
	if _, err := check(ctx); err != nil {
		return nil, err
	}
	return s.startOp(ctx, req.GetName(), "delete", []string{folderLockKey(folder)}, func(ctx context.Context, p operations.Progress) (proto.Message, error) {
		cur, err := check(ctx)
		if err != nil {
			return nil, err
		}
		err = s.writeAsync(ctx, p, req.GetName(), func(ctx context.Context) (string, error) {
			return s.services.DeleteFolderAsync(ctx, cur.FolderName)
		})
		if err != nil {
			return nil, err
		}
		return &emptypb.Empty{}, nil
	})
}

// ListServices implements adminv1.ServicesServiceServer.
func (s *servicesServer) ListServices(ctx context.Context, req *adminv1.ListServicesRequest) (*adminv1.ListServicesResponse, error) {
	folder, err := parseParent("parent", req.GetParent(), true)
	if err != nil {
		return nil, err
	}
	view := req.GetView()
	if _, ok := adminv1.ServiceView_name[int32(view)]; !ok {
		return nil, invalidArgument("view", "unknown view "+itoa(int(view)))
	}
	query := "services|" + req.GetParent() + "|" + strconv.Itoa(int(view))
	if _, err := checkPage(req.GetPageSize(), req.GetPageToken(), query); err != nil {
		return nil, err
	}
	var all []*adminv1.Service
	switch folder {
	case "":
		root, err := s.services.ListRoot(ctx)
		if err != nil {
			return nil, Status(err, "")
		}
		all = summaries("", root.Services)
	case parentAll:
		root, err := s.services.ListRoot(ctx)
		if err != nil {
			return nil, Status(err, "")
		}
		all = summaries("", root.Services)
		names := root.Folders
		if len(names) == 0 {
			for _, f := range root.FoldersDetail {
				names = append(names, f.FolderName)
			}
		}
		per := make([][]*adminv1.Service, len(names))
		err = forEach(ctx, len(names), func(ctx context.Context, i int) error {
			l, err := s.services.ListFolder(ctx, names[i])
			if err != nil {
				if upstream.IsNotFound(err) { // deleted meanwhile
					return nil
				}
				return err
			}
			per[i] = summaries(names[i], l.Services)
			return nil
		})
		if err != nil {
			return nil, Status(err, req.GetParent())
		}
		for _, p := range per {
			all = append(all, p...)
		}
	default:
		l, err := s.services.ListFolder(ctx, folder)
		if err != nil {
			return nil, Status(err, req.GetParent())
		}
		all = summaries(folder, l.Services)
	}
	page, next, err := paginate(all, (*adminv1.Service).GetName, query, req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	if view == adminv1.ServiceView_SERVICE_VIEW_FULL {
		err := forEach(ctx, len(page), func(ctx context.Context, i int) error {
			ref := serviceRef{Folder: page[i].GetFolder(), Name: page[i].GetServiceName(), Type: page[i].GetTypeName()}
			cfg, err := s.services.Get(ctx, ref.upstream())
			if err != nil {
				return err
			}
			full := serviceFromConfig(ref, cfg, nil)
			full.Uid = page[i].GetUid()
			page[i] = full
			return nil
		})
		if err != nil {
			return nil, Status(err, req.GetParent())
		}
	}
	return &adminv1.ListServicesResponse{Services: page, NextPageToken: next}, nil
}

// summaries converts a folder's listing to services.
func summaries(folder string, in []upstream.ServiceSummary) []*adminv1.Service {
	if len(in) == 0 {
		return nil
	}
	// One allocation for all the messages and one for all their names,
	// not two each.
	block := make([]adminv1.Service, len(in))
	out := make([]*adminv1.Service, len(in))
	for i := range in {
		fillFromSummary(&block[i], folder, in[i])
		out[i] = &block[i]
	}
	setSummaryNames(block)
	return out
}

// getService reads a service's configuration and status at once.
func (s *servicesServer) getService(ctx context.Context, ref serviceRef) (*adminv1.Service, error) {
	cfg, st, err := s.services.GetWithStatus(ctx, ref.upstream())
	if err != nil {
		return nil, Status(err, ref.resourceName())
	}
	return serviceFromConfig(ref, cfg, st), nil
}

// GetService implements adminv1.ServicesServiceServer.
func (s *servicesServer) GetService(ctx context.Context, req *adminv1.GetServiceRequest) (*adminv1.Service, error) {
	ref, err := parseServiceName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	svc, err := s.getService(ctx, ref)
	if err != nil {
		return nil, err
	}
	return svc, nil
}

// ArcGIS's defaults for settings a create request leaves unset.
var createDefaults = upstream.ServiceConfig{
	ClusterName:         "default",
	MinInstancesPerNode: 1,
	MaxInstancesPerNode: 2,
	MaxWaitTime:         60,
	MaxIdleTime:         1800,
	MaxUsageTime:        600,
	MaxStartupTime:      300,
	RecycleInterval:     24,
	RecycleStartTime:    "00:00",
	LoadBalancing:       "ROUND_ROBIN",
	IsolationLevel:      "HIGH",
}

// CreateService implements adminv1.ServicesServiceServer.
func (s *servicesServer) CreateService(ctx context.Context, req *adminv1.CreateServiceRequest) (*longrunningpb.Operation, error) {
	folder, err := parseParent("parent", req.GetParent(), false)
	if err != nil {
		return nil, err
	}
	name, typ, err := parseServiceID("service_id", req.GetServiceId())
	if err != nil {
		return nil, err
	}
	if req.GetService() == nil {
		return nil, invalidArgument("service", "is required")
	}
	ref := serviceRef{Folder: folder, Name: name, Type: typ}
	cfg := createDefaults
	cfg.Properties = map[string]string{}
	for _, path := range createFields {
		before := cfg
		if err := serviceFields[path](&cfg, req.GetService()); err != nil {
			return nil, err
		}
		if isZeroField(&cfg, path) { // unset: keep ArcGIS's default
			cfg = before
		}
	}
	if err := checkServiceConfig(&cfg); err != nil {
		return nil, err
	}
	cfg.ServiceName, cfg.Type = name, typ
	return s.startOp(ctx, ref.resourceName(), "create", []string{serviceLockKey(ref)}, func(ctx context.Context, p operations.Progress) (proto.Message, error) {
		err := s.writeAsync(ctx, p, ref.resourceName(), func(ctx context.Context) (string, error) {
			return s.services.CreateAsync(ctx, folder, &cfg)
		})
		if err != nil {
			return nil, err
		}
		return s.readBack(ctx, p, ref, "the create")
	})
}

// isZeroField reports whether the field at path was left unset by a create
// request (zero numbers and empty strings take the default).
func isZeroField(c *upstream.ServiceConfig, path string) bool {
	switch path {
	case "cluster_name":
		return c.ClusterName == ""
	case "min_instances_per_node":
		return c.MinInstancesPerNode == 0
	case "max_instances_per_node":
		return c.MaxInstancesPerNode == 0
	case "max_wait_duration":
		return c.MaxWaitTime == 0
	case "max_idle_duration":
		return c.MaxIdleTime == 0
	case "max_usage_duration":
		return c.MaxUsageTime == 0
	case "max_startup_duration":
		return c.MaxStartupTime == 0
	case "recycle_interval":
		return c.RecycleInterval == 0
	case "recycle_start_time_of_day":
		return c.RecycleStartTime == ""
	case "load_balancing":
		return c.LoadBalancing == ""
	case "isolation_level":
		return c.IsolationLevel == ""
	}
	return false
}

// checkServiceConfig validates relations between settings.
func checkServiceConfig(c *upstream.ServiceConfig) error {
	switch {
	case c.MinInstancesPerNode < 0:
		return invalidArgument("service.min_instances_per_node", "must not be negative")
	case c.MaxInstancesPerNode < 0:
		return invalidArgument("service.max_instances_per_node", "must not be negative")
	case c.MaxInstancesPerNode < c.MinInstancesPerNode:
		return invalidArgument("service.max_instances_per_node", "must be at least min_instances_per_node")
	case c.InstancesPerContainer < 0:
		return invalidArgument("service.instances_per_container", "must not be negative")
	}
	return nil
}

// UpdateService implements adminv1.ServicesServiceServer.
func (s *servicesServer) UpdateService(ctx context.Context, req *adminv1.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	if req.GetService() == nil {
		return nil, invalidArgument("service", "is required")
	}
	ref, err := parseServiceName("service.name", req.GetService().GetName())
	if err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask().GetPaths(), createFields, "properties")
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if key, ok := strings.CutPrefix(p, "properties."); ok && key != "" {
			continue
		}
		if _, ok := serviceFields[p]; !ok {
			return nil, invalidArgument("update_mask", "unknown or read-only field "+quoteName(p))
		}
	}
	// edit reads the service, checks the etag and applies the request: once
	// at once (NOT_FOUND, ABORTED and INVALID_ARGUMENT come back before any
	// operation starts), again under the lock in the work.
	edit := func(ctx context.Context) (*upstream.ServiceConfig, error) {
		cfg, err := s.services.Get(ctx, ref.upstream())
		if err != nil {
			return nil, Status(err, ref.resourceName())
		}
		if err := checkEtagOf(req.GetService().GetEtag(), cfg, ref.resourceName()); err != nil {
			return nil, err
		}
		if err := applyServiceUpdate(cfg, req.GetService(), paths); err != nil {
			return nil, err
		}
		return cfg, nil
	}
	if _, err := edit(ctx); err != nil {
		return nil, err
	}
	return s.startOp(ctx, ref.resourceName(), "update", []string{serviceLockKey(ref)}, func(ctx context.Context, p operations.Progress) (proto.Message, error) {
		cfg, err := edit(ctx)
		if err != nil {
			return nil, err
		}
		err = s.writeAsync(ctx, p, ref.resourceName(), func(ctx context.Context) (string, error) {
			return s.services.EditAsync(ctx, ref.upstream(), cfg)
		})
		if err != nil {
			return nil, err
		}
		return s.readBack(ctx, p, ref, "the update")
	})
}

// applyServiceUpdate applies the fields of svc named by paths to cfg.
func applyServiceUpdate(cfg *upstream.ServiceConfig, svc *adminv1.Service, paths []string) error {
	for _, p := range paths {
		if key, ok := strings.CutPrefix(p, "properties."); ok && key != "" {
			if cfg.Properties == nil {
				cfg.Properties = map[string]string{}
			}
			if v, ok := svc.GetProperties()[key]; ok {
				cfg.Properties[key] = v
			} else {
				delete(cfg.Properties, key)
			}
			continue
		}
		if err := serviceFields[p](cfg, svc); err != nil {
			return err
		}
	}
	return checkServiceConfig(cfg)
}

// DeleteService implements adminv1.ServicesServiceServer.
func (s *servicesServer) DeleteService(ctx context.Context, req *adminv1.DeleteServiceRequest) (*longrunningpb.Operation, error) {
	ref, err := parseServiceName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	check := func(ctx context.Context) error {
		if req.GetEtag() == "" {
			return nil
		}
		cfg, err := s.services.Get(ctx, ref.upstream())
		if err != nil {
			return Status(err, ref.resourceName())
		}
		return checkEtagOf(req.GetEtag(), cfg, ref.resourceName())
	}
	if err := check(ctx); err != nil {
		return nil, err
	}
	return s.startOp(ctx, ref.resourceName(), "delete", []string{serviceLockKey(ref)}, func(ctx context.Context, p operations.Progress) (proto.Message, error) {
		if err := check(ctx); err != nil {
			return nil, err
		}
		err := s.writeAsync(ctx, p, ref.resourceName(), func(ctx context.Context) (string, error) {
			return s.services.DeleteAsync(ctx, ref.upstream())
		})
		if err != nil {
			return nil, err
		}
		return &emptypb.Empty{}, nil
	})
}

// StartService implements adminv1.ServicesServiceServer.
func (s *servicesServer) StartService(ctx context.Context, req *adminv1.StartServiceRequest) (*longrunningpb.Operation, error) {
	return s.changeState(ctx, req.GetName(), "start", s.services.StartAsync)
}

// StopService implements adminv1.ServicesServiceServer.
func (s *servicesServer) StopService(ctx context.Context, req *adminv1.StopServiceRequest) (*longrunningpb.Operation, error) {
	return s.changeState(ctx, req.GetName(), "stop", s.services.StopAsync)
}

// changeState starts the operation that starts or stops (change, verb) the
// named service (following the upstream job it may run as); its response
// is the service as read back afterwards.
func (s *servicesServer) changeState(ctx context.Context, name, verb string, change func(context.Context, upstream.ServiceRef) (string, error)) (*longrunningpb.Operation, error) {
	ref, err := parseServiceName("name", name)
	if err != nil {
		return nil, err
	}
	return s.startOp(ctx, ref.resourceName(), verb, []string{serviceLockKey(ref)}, func(ctx context.Context, p operations.Progress) (proto.Message, error) {
		err := s.writeAsync(ctx, p, ref.resourceName(), func(ctx context.Context) (string, error) { return change(ctx, ref.upstream()) })
		if err != nil {
			return nil, err
		}
		return s.readBack(ctx, p, ref, "the "+verb)
	})
}

// forEach runs fn for 0..n-1 with at most fanOut calls at once and returns
// the first error; the others are canceled through ctx. The last call runs
// on the caller's goroutine, which would otherwise only wait: n calls cost
// n-1 goroutines.
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, fanOut)
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		run := func(i int) {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}
		if i == n-1 {
			run(i)
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			run(i)
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
