package server

import (
	"context"

	"github.com/arcgate/arcgate/upstream"
)

// The handlers call the upstream through these interfaces, one per family
// of the upstream client, so that their tests can run against in-memory
// fakes (handlers_fake_test.go); the servers Register builds get the
// families of an *upstream.Client, and the e2e tests keep the simulator.
// Each interface lists the methods server/ calls, with the signatures of
// the upstream client's.

// servicesAPI is what the services handlers call: *upstream.ServicesService.
type servicesAPI interface {
	ListRoot(ctx context.Context) (*upstream.FolderListing, error)
	ListFolder(ctx context.Context, folder string) (*upstream.FolderListing, error)
	CreateFolder(ctx context.Context, folder, description string) error
	EditFolder(ctx context.Context, folder, description string, webEncrypted bool) error
	DeleteFolder(ctx context.Context, folder string) error
	Get(ctx context.Context, ref upstream.ServiceRef) (*upstream.ServiceConfig, error)
	Status(ctx context.Context, ref upstream.ServiceRef) (*upstream.ServiceStatus, error)
	GetWithStatus(ctx context.Context, ref upstream.ServiceRef) (*upstream.ServiceConfig, *upstream.ServiceStatus, error)
	Create(ctx context.Context, folder string, cfg *upstream.ServiceConfig) error
	Edit(ctx context.Context, ref upstream.ServiceRef, cfg *upstream.ServiceConfig) error
	EditAsync(ctx context.Context, ref upstream.ServiceRef, cfg *upstream.ServiceConfig) (jobID string, err error)
	Delete(ctx context.Context, ref upstream.ServiceRef) error
	Start(ctx context.Context, ref upstream.ServiceRef) error
	Stop(ctx context.Context, ref upstream.ServiceRef) error
	StartMany(ctx context.Context, refs []upstream.ServiceRef) error
	StopMany(ctx context.Context, refs []upstream.ServiceRef) error
}

// systemJobsAPI is what the operations that follow an asynchronous
// upstream call read: *upstream.SystemJobsService.
type systemJobsAPI interface {
	Get(ctx context.Context, id string) (*upstream.SystemJob, error)
}

// jobsAPI is what the jobs handlers call: *upstream.JobsService.
type jobsAPI interface {
	Query(ctx context.Context, ref upstream.ServiceRef, q upstream.JobQuery) (*upstream.JobPage, error)
	Get(ctx context.Context, ref upstream.ServiceRef, jobID string) (*upstream.Job, error)
	Cancel(ctx context.Context, ref upstream.ServiceRef, jobID string) error
	Delete(ctx context.Context, ref upstream.ServiceRef, jobID string) error
	PurgeQueue(ctx context.Context, ref upstream.ServiceRef) error
}

// itemInfoAPI is what the item info handlers call: *upstream.ItemInfoService.
type itemInfoAPI interface {
	Get(ctx context.Context, ref upstream.ServiceRef) (*upstream.ItemInfo, error)
	Edit(ctx context.Context, ref upstream.ServiceRef, info *upstream.ItemInfo, thumb *upstream.Thumbnail) error
	Thumbnail(ctx context.Context, ref upstream.ServiceRef, path string) (*upstream.Thumbnail, error)
}

// rolesAPI is what the roles handlers call: *upstream.RolesService.
type rolesAPI interface {
	Store(ctx context.Context) (*upstream.RoleStore, error)
	List(ctx context.Context, startIndex, pageSize int) (*upstream.RolePage, error)
	Search(ctx context.Context, filter string, maxCount int) (*upstream.RolePage, error)
	Add(ctx context.Context, name, description string) error
	Update(ctx context.Context, name, description string) error
	Remove(ctx context.Context, name string) error
	Privilege(ctx context.Context, name string) (string, error)
	AssignPrivilege(ctx context.Context, name, privilege string) error
	RolesByPrivilege(ctx context.Context, privilege string) ([]string, error)
	UsersInRole(ctx context.Context, name, filter string, maxCount int) (*upstream.NameList, error)
	AddUsers(ctx context.Context, name string, users []string) error
	RemoveUsers(ctx context.Context, name string, users []string) error
	RolesForUser(ctx context.Context, username, filter string, maxCount int) (*upstream.NameList, error)
}

// usageReportsAPI is what the usage report handlers call:
// *upstream.UsageReportsService.
type usageReportsAPI interface {
	List(ctx context.Context) ([]upstream.UsageReport, error)
	Get(ctx context.Context, name string) (*upstream.UsageReport, error)
	Add(ctx context.Context, def *upstream.UsageReport) error
	Edit(ctx context.Context, name string, def *upstream.UsageReport) error
	Delete(ctx context.Context, name string) error
	Data(ctx context.Context, name string, filter upstream.UsageDataFilter) (*upstream.UsageData, error)
	Settings(ctx context.Context) (*upstream.UsageSettings, error)
	EditSettings(ctx context.Context, st upstream.UsageSettings) error
}

// siteAPI is the client-level call the usage report handlers make (the
// site's version): *upstream.Client.
type siteAPI interface {
	SiteInfo(ctx context.Context) (*upstream.SiteInfo, error)
}

var (
	_ servicesAPI     = (*upstream.ServicesService)(nil)
	_ jobsAPI         = (*upstream.JobsService)(nil)
	_ systemJobsAPI   = (*upstream.SystemJobsService)(nil)
	_ itemInfoAPI     = (*upstream.ItemInfoService)(nil)
	_ rolesAPI        = (*upstream.RolesService)(nil)
	_ usageReportsAPI = (*upstream.UsageReportsService)(nil)
	_ siteAPI         = (*upstream.Client)(nil)
)

// jobsOf returns the jobs family of up, nil for a nil client (a Server
// made with New(nil) still builds its jobs service).
func jobsOf(up *upstream.Client) jobsAPI {
	if up == nil {
		return nil
	}
	return up.Jobs
}

// systemJobsOf returns the system jobs family of up, nil for a nil client.
func systemJobsOf(up *upstream.Client) systemJobsAPI {
	if up == nil {
		return nil
	}
	return up.SystemJobs
}
