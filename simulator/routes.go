package simulator

// This file holds the routing tables. Each resource family is implemented in
// its own file; wiring a new family (jobs, item info, usage reports, roles,
// ...) means adding its handlers in a new file and an entry here.
//
// Segment names are matched case-sensitively, as documented; folder and
// service names are matched case-insensitively by the services family.

// route is an entry of a route table: the handler of one path segment and
// the rules checked before it runs. H is the family's handler type; what a
// handler is given besides the call differs per level (the folder, the
// service, the job, ...).
type route[H any] struct {
	// public routes are served without a token (first-level admin routes).
	public bool
	// operation routes are POST only (405 otherwise).
	operation bool
	// async operations run as an asynchronous job when the request asks
	// for it in the site's flavor (systemjobs.go).
	async bool
	// nested routes accept further path segments (passed to the handler as
	// rest); below any other route they are unknown (404).
	nested bool
	handle H
}

// routeTable maps a path segment to its route. The tables below are the
// whole routing of the admin API; each resource family implements its
// handlers in its own file.
type routeTable[H any] map[string]route[H]

// match looks up the route of rest[0] and applies its checks (extra
// segments, method) to rest[1:]. found reports whether the table has the
// segment; ok reports whether the checks passed and the caller is to run
// the handler. When found && !ok the call has been answered.
func (t routeTable[H]) match(c *call, rest []string) (h H, found, ok bool) {
	r, found := t[rest[0]]
	if !found {
		return h, false, false
	}
	return r.handle, true, r.allowed(c, rest[1:])
}

// allowed applies the route's checks to the segments below its own: extra
// segments make it unknown (404) unless it is nested, and operations are
// POST only (405). On failure it has answered.
func (r route[H]) allowed(c *call, rest []string) bool {
	if !r.nested && len(rest) > 0 {
		c.notFound(rest[0])
		return false
	}
	if r.operation && !c.requirePOST() {
		return false
	}
	if r.async {
		return c.s.startAsync(c)
	}
	return true
}

// adminHandler serves a first-level child of /<ctx>/admin/; c.segs[0] is
// the route's own segment.
type adminHandler = func(s *Server, c *call)

// adminRoutes maps the first path segment below /<ctx>/admin/ to its family.
// The site root itself (no segment) is served by serveSiteRoot. All are
// nested: each handler reads the segments below its own from c.segs.
var adminRoutes = routeTable[adminHandler]{
	"generateToken": {public: true, nested: true, handle: (*Server).serveAdminGenerateToken},
	"publicKey":     {public: true, nested: true, handle: (*Server).servePublicKey},
	"services":      {nested: true, handle: (*Server).serveServices},
	"security":      {nested: true, handle: (*Server).serveSecurity},
	"usagereports":  {nested: true, handle: (*Server).serveUsageReports},
	"system":        {nested: true, handle: (*Server).serveSystem},
	"jobs":          {nested: true, handle: (*Server).serveKubernetesJobs}, // Enterprise on Kubernetes only
}

// servicesRoutes maps a segment directly below /admin/services/ that is not
// a folder or a service; nested routes get the segments below theirs.
var servicesRoutes = routeTable[func(s *Server, c *call, rest []string)]{
	"createFolder":  {operation: true, handle: (*Server).createFolder},
	"createService": {operation: true, async: true, handle: (*Server).createRootService},
	"exists":        {handle: (*Server).serviceExists},
	"startServices": {operation: true, async: true, handle: (*Server).startServices},
	"stopServices":  {operation: true, async: true, handle: (*Server).stopServices},
	"types":         {nested: true, handle: (*Server).serveTypes},
}

// folderRoutes maps a segment below /admin/services/<folder>/ that is not a
// service; the handler gets the folder's lower-case key and its segment.
var folderRoutes = routeTable[func(s *Server, c *call, folderKey, folderSeg string)]{
	"editFolder":    {operation: true, handle: (*Server).editFolder},
	"deleteFolder":  {operation: true, async: true, handle: (*Server).deleteFolder},
	"createService": {operation: true, async: true, handle: (*Server).createFolderService},
}

// serviceRoutes maps the segment following a service
// (/admin/services/[<folder>/]<name>.<Type>/). Service-level families such
// as jobs, iteminfo or permissions plug in here.
var serviceRoutes = routeTable[func(s *Server, c *call, ref serviceRef, rest []string)]{
	"status": {handle: (*Server).serviceStatus},
	"start":  {operation: true, async: true, handle: (*Server).startService},
	"stop":   {operation: true, async: true, handle: (*Server).stopService},
	"delete": {operation: true, async: true, handle: (*Server).deleteService},
	"edit":   {operation: true, async: true, handle: (*Server).editService},
	"jobs":   {nested: true, handle: (*Server).serveJobs},

	// Item info; the docs spell the segment both ways
	// (docs/upstream.md#item-info).
	"iteminfo": {nested: true, handle: (*Server).serveItemInfo},
	"itemInfo": {nested: true, handle: (*Server).serveItemInfo},
}

// jobsRoutes maps a segment below .../<service>/jobs/ that is not a job id.
var jobsRoutes = routeTable[func(s *Server, c *call, ref serviceRef)]{
	"query":      {handle: (*Server).queryJobs},
	"purgeQueue": {operation: true, handle: (*Server).purgeJobQueue},
}

// jobRoutes maps the segment following a job id
// (.../<service>/jobs/<jobID>/).
var jobRoutes = routeTable[func(s *Server, c *call, ref serviceRef, jobID string)]{
	"cancel": {operation: true, handle: (*Server).cancelJob},
	"delete": {operation: true, handle: (*Server).deleteJob},
}

// usageHandler serves a child of usagereports/ (name "") or of
// usagereports/<name>/.
type usageHandler = func(s *Server, c *call, st *usageState, name string, rest []string)

// usageReportsRoutes maps a segment directly below usagereports/ that is not
// a report.
var usageReportsRoutes = routeTable[usageHandler]{
	"add":      {operation: true, handle: (*Server).addUsageReport},
	"settings": {nested: true, handle: (*Server).serveUsageSettings},
}

// usageReportRoutes maps the segment following usagereports/<name>/.
var usageReportRoutes = routeTable[usageHandler]{
	"edit":   {operation: true, handle: (*Server).editUsageReport},
	"delete": {operation: true, handle: (*Server).deleteUsageReport},
	"data":   {handle: (*Server).usageReportData},
}

// rolesRoutes maps a segment below /admin/security/roles/
// (docs/upstream.md#roles); all are operations. roleStoreWrite marks those
// that change the role store.
var rolesRoutes = routeTable[func(s *Server, c *call)]{
	"getRoles":            {operation: true, handle: (*Server).getRoles},
	"search":              {operation: true, handle: (*Server).searchRoles},
	"add":                 {operation: true, handle: roleStoreWrite((*Server).addRole)},
	"update":              {operation: true, handle: roleStoreWrite((*Server).updateRole)},
	"remove":              {operation: true, handle: roleStoreWrite((*Server).removeRole)},
	"getPrivilege":        {operation: true, handle: (*Server).getRolePrivilege},
	"assignPrivilege":     {operation: true, handle: (*Server).assignPrivilege},
	"getRolesByPrivilege": {operation: true, handle: (*Server).getRolesByPrivilege},
	"getUsersWithinRole":  {operation: true, handle: (*Server).getUsersWithinRole},
	"addUsersToRole":      {operation: true, handle: roleStoreWrite((*Server).addUsersToRole)},
	"removeUsersFromRole": {operation: true, handle: roleStoreWrite((*Server).removeUsersFromRole)},
	"getRolesForUser":     {operation: true, handle: (*Server).getRolesForUser},
}

// roleStoreWrite wraps a roles operation that changes the role store: it is
// refused when the store is read-only.
func roleStoreWrite(h func(s *Server, c *call)) func(s *Server, c *call) {
	return func(s *Server, c *call) {
		s.roles.mu.RLock()
		ro := s.roles.readOnly
		s.roles.mu.RUnlock()
		if ro {
			c.fail(400, msgRoleStoreReadOnly)
			return
		}
		h(s, c)
	}
}

// reservedFolderNames cannot be used as folder names because they collide
// with routes below /admin/services/ (compared in lower case). It lists the
// servicesRoutes keys and the documented children not simulated yet; it is
// spelled out rather than derived from servicesRoutes to avoid an
// initialization cycle.
var reservedFolderNames = map[string]bool{
	"createfolder": true, "createservice": true, "exists": true, "types": true,
	"cancreateservice": true, "deleteservices": true, "exportservices": true,
	"federate": true, "importservices": true, "renameservice": true,
	"startservices": true, "stopservices": true, "unfederate": true,
	"report": true, "permissions": true, "properties": true, "webhooks": true,
}
