package simulator

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Invented folder messages (docs/upstream.md#open-questions: no recorded
// texts).
const (
	// msgFolderNameRequired is INVENTED: createFolder without folderName (code 400).
	msgFolderNameRequired = "Missing required parameter 'folderName'."
)

// msgFolderExists is INVENTED: createFolder with an existing name (code 500).
func msgFolderExists(name string) string {
	return "A folder with the name '" + name + "' already exists."
}

// msgFolderNameInvalid is INVENTED: folder name with characters other than
// letters, digits and underscores (code 400).
func msgFolderNameInvalid(name string) string {
	return "Folder name '" + name + "' is not valid. Folder names can only contain letters, numbers and underscores."
}

// msgFolderNameReserved is INVENTED: folder name colliding with an operation
// or resource of /admin/services (code 400).
func msgFolderNameReserved(name string) string {
	return "Folder name '" + name + "' is reserved and cannot be used."
}

// msgDefaultFolder is INVENTED: deleteFolder on System or Utilities (code 400).
func msgDefaultFolder(name string) string {
	return "The folder '" + name + "' is a default folder and cannot be deleted."
}

// msgBadBoolean is INVENTED: a true/false parameter with another value (code 400).
func msgBadBoolean(param, value string) string {
	return "Invalid value '" + value + "' for parameter '" + param + "'. Expected 'true' or 'false'."
}

// serviceSummary is a service entry of a folder listing.
type serviceSummary struct {
	FolderName  string `json:"folderName"`
	ServiceName string `json:"serviceName"`
	Type        string `json:"type"`
	Description string `json:"description"`
	ID          string `json:"id"`
}

// folderDetail is an entry of the root listing's foldersDetail.
type folderDetail struct {
	FolderName   string `json:"folderName"`
	Description  string `json:"description"`
	WebEncrypted bool   `json:"webEncrypted"`
	IsDefault    bool   `json:"isDefault"`
	ID           string `json:"id"`
}

// serveServices dispatches /admin/services and everything below it.
func (s *Server) serveServices(c *call) {
	rest := c.segs[1:]
	if len(rest) == 0 {
		s.listRoot(c)
		return
	}
	if handle, found, ok := servicesRoutes.match(c, rest); found {
		if ok {
			handle(s, c, rest[1:])
		}
		return
	}
	if name, typ, ok := parseServiceSegment(rest[0]); ok {
		s.serveService(c, "", rest[0], name, typ, rest[1:])
		return
	}
	folderKey := strings.ToLower(rest[0])
	s.mu.RLock()
	_, exists := s.folders[folderKey]
	s.mu.RUnlock()
	if !exists {
		c.notFound(rest[0])
		return
	}
	if len(rest) == 1 {
		s.listFolder(c, folderKey, rest[0])
		return
	}
	if handle, found, ok := folderRoutes.match(c, rest[1:]); found {
		if ok {
			handle(s, c, folderKey, rest[0])
		}
		return
	}
	if name, typ, ok := parseServiceSegment(rest[1]); ok {
		s.serveService(c, folderKey, rest[1], name, typ, rest[2:])
		return
	}
	c.notFound(rest[1])
}

// parseServiceSegment splits "<name>.<Type>"; the type must be a known
// service type (exact case).
func parseServiceSegment(seg string) (name, typ string, ok bool) {
	i := strings.LastIndexByte(seg, '.')
	if i <= 0 {
		return "", "", false
	}
	name, typ = seg[:i], seg[i+1:]
	if _, known := serviceTypeByName[typ]; !known {
		return "", "", false
	}
	return name, typ, true
}

// detailRequested reports whether detail=true was sent.
func detailRequested(c *call) bool { return strings.EqualFold(c.param("detail"), "true") }

// listRoot implements GET /admin/services.
func (s *Server) listRoot(c *call) {
	detail := detailRequested(c)
	s.mu.RLock()
	root := s.root
	folders := make([]string, 0, len(s.folderOrder))
	details := make([]folderDetail, 0, len(s.folderOrder))
	for _, f := range s.folderOrder {
		folders = append(folders, f.name)
		details = append(details, folderDetail{
			FolderName: f.name, Description: f.description,
			WebEncrypted: f.webEncrypted, IsDefault: f.isDefault, ID: f.id,
		})
	}
	services := s.serviceEntries(root, s.rootFolderName, detail)
	s.mu.RUnlock()
	c.writeJSON(struct {
		FolderName    string         `json:"folderName"`
		Description   string         `json:"description"`
		WebEncrypted  bool           `json:"webEncrypted"`
		IsDefault     bool           `json:"isDefault"`
		Folders       []string       `json:"folders"`
		FoldersDetail []folderDetail `json:"foldersDetail"`
		Services      any            `json:"services"`
	}{"/", "Root folder", false, false, folders, details, services})
}

// listFolder implements GET /admin/services/<folder>.
func (s *Server) listFolder(c *call, folderKey, seg string) {
	detail := detailRequested(c)
	s.mu.RLock()
	f := s.folders[folderKey]
	if f == nil {
		s.mu.RUnlock()
		c.notFound(seg)
		return
	}
	name, desc, enc, def := f.name, f.description, f.webEncrypted, f.isDefault
	services := s.serviceEntries(f, f.name, detail)
	s.mu.RUnlock()
	c.writeJSON(struct {
		FolderName   string `json:"folderName"`
		Description  string `json:"description"`
		WebEncrypted bool   `json:"webEncrypted"`
		IsDefault    bool   `json:"isDefault"`
		Services     any    `json:"services"`
	}{name, desc, enc, def, services})
}

// serviceEntries lists the services of f for a listing. With detail, each
// entry is the full service JSON with a folderName key added when the
// configuration has none (INFERRED shape,
// docs/upstream.md#services-and-folders). The caller holds s.mu.
func (s *Server) serviceEntries(f *folder, folderName string, detail bool) any {
	if detail {
		out := make([]json.RawMessage, 0, len(f.ordered))
		prefix := `{"folderName":` + strconv.Quote(folderName)
		for _, svc := range f.ordered {
			if _, has := svc.config["folderName"]; has || len(svc.raw) < 2 {
				out = append(out, svc.raw)
				continue
			}
			b := make([]byte, 0, len(prefix)+len(svc.raw)+1)
			b = append(b, prefix...)
			if len(svc.raw) > 2 {
				b = append(b, ',')
			}
			b = append(b, svc.raw[1:]...)
			out = append(out, b)
		}
		return out
	}
	out := make([]serviceSummary, 0, len(f.ordered))
	for _, svc := range f.ordered {
		out = append(out, serviceSummary{
			FolderName: folderName, ServiceName: svc.name, Type: svc.typ,
			Description: svc.description, ID: svc.id,
		})
	}
	return out
}

// createFolder implements POST /admin/services/createFolder (folderName,
// description; webEncrypted is not a createFolder parameter).
func (s *Server) createFolder(c *call, _ []string) {
	name := c.param("folderName")
	switch {
	case name == "":
		c.fail(400, msgFolderNameRequired)
		return
	case !validName(name):
		c.fail(400, msgFolderNameInvalid(name))
		return
	case reservedFolderNames[strings.ToLower(name)]:
		c.fail(400, msgFolderNameReserved(name))
		return
	}
	key := strings.ToLower(name)
	s.mu.Lock()
	if _, dup := s.folders[key]; dup {
		s.mu.Unlock()
		c.fail(500, msgFolderExists(name))
		return
	}
	f := newFolder(name, c.param("description"), false)
	s.folders[key] = f
	s.folderOrder = append(s.folderOrder, f)
	s.mu.Unlock()
	s.logEvent("simulator: folder %q created", name)
	c.success()
}

// editFolder implements POST /admin/services/<folder>/editFolder
// (description, webEncrypted).
func (s *Server) editFolder(c *call, folderKey, seg string) {
	var enc *bool
	if c.hasParam("webEncrypted") {
		v := c.param("webEncrypted")
		switch {
		case strings.EqualFold(v, "true"):
			t := true
			enc = &t
		case strings.EqualFold(v, "false"):
			f := false
			enc = &f
		default:
			c.fail(400, msgBadBoolean("webEncrypted", v))
			return
		}
	}
	s.mu.Lock()
	f := s.folders[folderKey]
	if f == nil {
		s.mu.Unlock()
		c.notFound(seg)
		return
	}
	if c.hasParam("description") {
		f.description = c.param("description")
	}
	if enc != nil {
		f.webEncrypted = *enc
	}
	name := f.name
	s.mu.Unlock()
	s.logEvent("simulator: folder %q edited", name)
	c.success()
}

// deleteFolder implements POST /admin/services/<folder>/deleteFolder; the
// folder's services are deleted with it. Default folders are refused.
func (s *Server) deleteFolder(c *call, folderKey, seg string) {
	s.mu.Lock()
	f := s.folders[folderKey]
	if f == nil {
		s.mu.Unlock()
		c.notFound(seg)
		return
	}
	if f.isDefault {
		s.mu.Unlock()
		c.fail(400, msgDefaultFolder(f.name))
		return
	}
	delete(s.folders, folderKey)
	for i, o := range s.folderOrder {
		if o == f {
			s.folderOrder = append(s.folderOrder[:i], s.folderOrder[i+1:]...)
			break
		}
	}
	gone := slices.Clone(f.ordered)
	s.mu.Unlock()
	s.jobs.forget(gone...)
	s.logEvent("simulator: folder %q deleted with %d services", f.name, len(gone))
	c.success()
}

// serviceExists implements /admin/services/exists (folderName, serviceName,
// type). Without serviceName it reports whether the folder exists.
func (s *Server) serviceExists(c *call, _ []string) {
	folderName := c.param("folderName")
	if folderName == "/" {
		folderName = ""
	}
	name, typ := c.param("serviceName"), c.param("type")
	s.mu.RLock()
	f := s.lookupFolder(strings.ToLower(folderName))
	exists := f != nil
	if exists && name != "" {
		_, exists = f.services[serviceKey(name, typ)]
	}
	s.mu.RUnlock()
	c.writeJSON(struct {
		Exists bool `json:"exists"`
	}{exists})
}
