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
	// The writes the long-running operations make: each asks for
	// asynchronous execution and returns the job id the site answered
	// with, "" when it answered synchronously.
	CreateAsync(ctx context.Context, folder string, cfg *upstream.ServiceConfig) (jobID string, err error)
	DeleteAsync(ctx context.Context, ref upstream.ServiceRef) (jobID string, err error)
	StartAsync(ctx context.Context, ref upstream.ServiceRef) (jobID string, err error)
	StopAsync(ctx context.Context, ref upstream.ServiceRef) (jobID string, err error)
	DeleteFolderAsync(ctx context.Context, folder string) (jobID string, err error)
	StartManyAsync(ctx context.Context, refs []upstream.ServiceRef) (jobID string, err error)
	StopManyAsync(ctx context.Context, refs []upstream.ServiceRef) (jobID string, err error)
}

// upstreamJobsAPI is what followJob reads: the upstream's asynchronous
// jobs, whichever shape the site has (systemJobReader for ArcGIS Server,
// kubernetesJobReader for Enterprise on Kubernetes), seen as one
// upstreamJob.
type upstreamJobsAPI interface {
	Get(ctx context.Context, id string) (upstreamJob, error)
}

// upstreamJob is an upstream asynchronous job as followJob sees it.
type upstreamJob struct {
	// done: the job has ended; err: its failure (nil when it succeeded
	// or still runs).
	done bool
	err  *upstream.Error
	// state is its progress for the operation's metadata (upstream_state).
	state string
}

// systemJobsAPI reads ArcGIS Server's jobs: *upstream.SystemJobsService.
type systemJobsAPI interface {
	Get(ctx context.Context, id string) (*upstream.SystemJob, error)
}

// kubernetesJobsAPI reads Enterprise on Kubernetes' jobs:
// *upstream.KubernetesJobsService.
type kubernetesJobsAPI interface {
	Get(ctx context.Context, id string) (*upstream.KubernetesJob, error)
}

// systemJobReader is the upstreamJobsAPI of ArcGIS Server
// (admin/system/jobs/<id>).
type systemJobReader struct{ jobs systemJobsAPI }

func (r systemJobReader) Get(ctx context.Context, id string) (upstreamJob, error) {
	j, err := r.jobs.Get(ctx, id)
	if err != nil {
		return upstreamJob{}, err
	}
	return upstreamJob{done: j.Done(), err: j.Err, state: systemJobState(j)}, nil
}

// kubernetesJobReader is the upstreamJobsAPI of Enterprise on Kubernetes
// (admin/jobs/<id>).
type kubernetesJobReader struct{ jobs kubernetesJobsAPI }

func (r kubernetesJobReader) Get(ctx context.Context, id string) (upstreamJob, error) {
	j, err := r.jobs.Get(ctx, id)
	if err != nil {
		return upstreamJob{}, err
	}
	return upstreamJob{done: j.Done(), err: j.Err, state: kubernetesJobState(j)}, nil
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
	_ servicesAPI       = (*upstream.ServicesService)(nil)
	_ jobsAPI           = (*upstream.JobsService)(nil)
	_ systemJobsAPI     = (*upstream.SystemJobsService)(nil)
	_ kubernetesJobsAPI = (*upstream.KubernetesJobsService)(nil)
	_ itemInfoAPI       = (*upstream.ItemInfoService)(nil)
	_ rolesAPI          = (*upstream.RolesService)(nil)
	_ usageReportsAPI   = (*upstream.UsageReportsService)(nil)
	_ siteAPI           = (*upstream.Client)(nil)
)

// jobsOf returns the jobs family of up, nil for a nil client (a Server
// made with New(nil) still builds its jobs service).
func jobsOf(up *upstream.Client) jobsAPI {
	if up == nil {
		return nil
	}
	return up.Jobs
}

// upstreamJobsOf returns the reader of up's asynchronous jobs, for the
// shape of its flavor; nil for a nil client.
func upstreamJobsOf(up *upstream.Client) upstreamJobsAPI {
	switch {
	case up == nil:
		return nil
	case up.Flavor() == upstream.FlavorKubernetes:
		return kubernetesJobReader{up.KubernetesJobs}
	}
	return systemJobReader{up.SystemJobs}
}
