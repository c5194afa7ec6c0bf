package simulator

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Invented service messages (no recorded texts).
const (
	// msgServiceNameTypeRequired is INVENTED: createService JSON without a
	// string serviceName or type (code 400).
	msgServiceNameTypeRequired = "The service JSON must contain the 'serviceName' and 'type' properties."
	// msgJSONObjectStart imitates the org.json message ArcGIS Server (a Java
	// server) leaks for a service parameter that is not a JSON object
	// (code 500). INVENTED as an admin answer.
	msgJSONObjectStart = "A JSONObject text must begin with '{' at character 1"
)

// msgJSONSyntax imitates an org.json parse error at a character position
// (code 500). INVENTED.
func msgJSONSyntax(offset int64) string {
	return "A JSONObject text is not valid JSON at character " + strconv.FormatInt(offset, 10)
}

// msgServiceExists is INVENTED: createService of an existing service (code 500).
func msgServiceExists(folderName, name, typ string) string {
	full := name + "." + typ
	if folderName != "" {
		full = folderName + "/" + full
	}
	return "Service '" + full + "' already exists."
}

// msgServiceType is INVENTED: createService with an unknown type (code 400).
func msgServiceType(typ string) string {
	return "Service type '" + typ + "' is not supported."
}

// msgServiceNameInvalid is INVENTED: service name with characters other than
// letters, digits and underscores (code 400).
func msgServiceNameInvalid(name string) string {
	return "Service name '" + name + "' is not valid. Service names can only contain letters, numbers and underscores."
}

// msgEditMismatch is INVENTED: edit whose JSON names another service (code 400).
func msgEditMismatch(got, want string) string {
	return "The service '" + got + "' in the 'service' parameter does not match the service being edited '" + want + "'."
}

// serviceRef identifies a service addressed by a request.
type serviceRef struct {
	folderKey string // lower-case folder name, "" for root
	key       string // serviceKey(name, type)
	seg       string // the "<name>.<Type>" path segment as sent
}

// lookup returns the referenced service and its folder, or nils. The caller
// holds s.mu.
func (s *Server) lookup(ref serviceRef) (*folder, *service) {
	f := s.lookupFolder(ref.folderKey)
	if f == nil {
		return nil, nil
	}
	svc := f.services[ref.key]
	if svc == nil {
		return nil, nil
	}
	return f, svc
}

// serveService dispatches /admin/services/[<folder>/]<name>.<Type>[/...].
func (s *Server) serveService(c *call, folderKey, seg, name, typ string, rest []string) {
	ref := serviceRef{folderKey: folderKey, key: serviceKey(name, typ), seg: seg}
	s.mu.RLock()
	_, svc := s.lookup(ref)
	var raw []byte
	if svc != nil {
		raw = svc.raw
	}
	s.mu.RUnlock()
	if svc == nil {
		c.notFound(seg)
		return
	}
	if len(rest) == 0 {
		c.writeBody(raw)
		return
	}
	handle, found, ok := serviceRoutes.match(c, rest)
	if !found {
		c.notFound(rest[0])
		return
	}
	if ok {
		handle(s, c, ref, rest[1:])
	}
}

// serviceStatus implements GET .../<service>/status.
func (s *Server) serviceStatus(c *call, ref serviceRef, _ []string) {
	s.mu.RLock()
	_, svc := s.lookup(ref)
	var configured, realTime string
	if svc != nil {
		configured, realTime = svc.configuredState, svc.realTimeState
	}
	s.mu.RUnlock()
	if svc == nil {
		c.notFound(ref.seg)
		return
	}
	c.writeJSON(struct {
		ConfiguredState string `json:"configuredState"`
		RealTimeState   string `json:"realTimeState"`
	}{configured, realTime})
}

// errNoService is returned by ServiceState for an unknown service.
var errNoService = errors.New("simulator: no such service")

// ServiceState returns a service's configured state ("STARTED" or
// "STOPPED"), for tests that check what really is upstream. servicePath is
// "[<folder>/]<name>.<Type>".
func (s *Server) ServiceState(servicePath string) (string, error) {
	svc, _ := s.lookupServicePath(servicePath)
	if svc == nil {
		return "", errNoService
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return svc.configuredState, nil
}

// startService implements POST .../<service>/start.
func (s *Server) startService(c *call, ref serviceRef, _ []string) {
	s.setState(c, ref, stateStarted)
}

// stopService implements POST .../<service>/stop.
func (s *Server) stopService(c *call, ref serviceRef, _ []string) {
	s.setState(c, ref, stateStopped)
}

// startServices implements POST services/startServices.
func (s *Server) startServices(c *call, _ []string) { s.setStates(c, stateStarted) }

// stopServices implements POST services/stopServices.
func (s *Server) stopServices(c *call, _ []string) { s.setStates(c, stateStopped) }

// setStates sets the state of every service of the services parameter
// ({"services":[{"folderName","serviceName","type"}]}, the root folder
// being ""), all or none: an unknown service fails the whole request.
func (s *Server) setStates(c *call, state string) {
	var p struct {
		Services []struct {
			FolderName  string `json:"folderName"`
			ServiceName string `json:"serviceName"`
			Type        string `json:"type"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(c.param("services")), &p); err != nil || len(p.Services) == 0 {
		c.fail(400, "The 'services' parameter must be a JSON object listing the services.")
		return
	}
	s.mu.Lock()
	svcs := make([]*service, len(p.Services))
	for i, ps := range p.Services {
		ref := serviceRef{folderKey: strings.ToLower(ps.FolderName), key: serviceKey(ps.ServiceName, ps.Type), seg: ps.ServiceName + "." + ps.Type}
		if _, svcs[i] = s.lookup(ref); svcs[i] == nil {
			s.mu.Unlock()
			c.notFound(ref.seg)
			return
		}
	}
	for _, svc := range svcs {
		svc.configuredState, svc.realTimeState = state, state
	}
	s.mu.Unlock()
	s.logEvent("simulator: %d services %s", len(svcs), state)
	c.success()
}

// setState sets both the configured and the real-time state.
func (s *Server) setState(c *call, ref serviceRef, state string) {
	s.mu.Lock()
	_, svc := s.lookup(ref)
	if svc != nil {
		svc.configuredState, svc.realTimeState = state, state
	}
	s.mu.Unlock()
	if svc == nil {
		c.notFound(ref.seg)
		return
	}
	s.logEvent("simulator: service %q %s", ref.seg, state)
	c.success()
}

// deleteService implements POST .../<service>/delete.
func (s *Server) deleteService(c *call, ref serviceRef, _ []string) {
	s.mu.Lock()
	f, svc := s.lookup(ref)
	if svc != nil {
		f.remove(ref.key)
	}
	s.mu.Unlock()
	if svc == nil {
		c.notFound(ref.seg)
		return
	}
	s.jobs.forget(svc)
	s.logEvent("simulator: service %q deleted", ref.seg)
	c.success()
}

// editService implements POST .../<service>/edit: the service parameter is
// the complete new JSON, stored as sent (an absent id is kept).
func (s *Server) editService(c *call, ref serviceRef, _ []string) {
	config, ok := decodeServiceParam(c)
	if !ok {
		return
	}
	name, _ := config["serviceName"].(string)
	typ, _ := config["type"].(string)
	s.mu.Lock()
	f, svc := s.lookup(ref)
	if svc == nil {
		s.mu.Unlock()
		c.notFound(ref.seg)
		return
	}
	if !strings.EqualFold(name, svc.name) || typ != svc.typ {
		want := svc.name + "." + svc.typ
		s.mu.Unlock()
		c.fail(400, msgEditMismatch(name+"."+typ, want))
		return
	}
	var edited json.RawMessage
	if c.async != nil {
		edited = mustJSON(config) // Enterprise on Kubernetes answers it in the job's result
	}
	svc.setConfig(f.name, config)
	s.mu.Unlock()
	s.logEvent("simulator: service %q edited", ref.seg)
	if c.async != nil {
		s.succeedAsync(c, struct {
			Service json.RawMessage `json:"service"`
		}{edited})
		return
	}
	c.success()
}

// createRootService implements POST /admin/services/createService.
func (s *Server) createRootService(c *call, _ []string) { s.createService(c, "", "createService") }

// createFolderService implements POST /admin/services/<folder>/createService.
func (s *Server) createFolderService(c *call, folderKey, seg string) {
	s.createService(c, folderKey, seg)
}

// createService creates a started service from the service parameter in the
// folder with the given key. Keys the client omits are filled with defaults;
// keys it sends are kept as sent.
func (s *Server) createService(c *call, folderKey, seg string) {
	config, ok := decodeServiceParam(c)
	if !ok {
		return
	}
	name, okName := config["serviceName"].(string)
	typ, okType := config["type"].(string)
	switch {
	case !okName || !okType || name == "" || typ == "":
		c.fail(400, msgServiceNameTypeRequired)
		return
	case serviceTypeByName[typ] == nil:
		c.fail(400, msgServiceType(typ))
		return
	case !validName(name):
		c.fail(400, msgServiceNameInvalid(name))
		return
	}
	for k, v := range defaultServiceConfig(name, typ) {
		if _, has := config[k]; !has {
			config[k] = v
		}
	}
	key := serviceKey(name, typ)
	s.mu.Lock()
	f := s.lookupFolder(folderKey)
	if f == nil {
		s.mu.Unlock()
		c.notFound(seg)
		return
	}
	if _, dup := f.services[key]; dup {
		s.mu.Unlock()
		c.fail(500, msgServiceExists(f.name, name, typ))
		return
	}
	f.add(newService(f.name, config))
	folderName := f.name
	s.mu.Unlock()
	s.logEvent("simulator: service %q created in folder %q", name+"."+typ, folderName)
	c.success()
}

// decodeServiceParam decodes the service form parameter into a JSON object,
// keeping numbers as sent. On failure it writes a code 500 envelope with a
// Java-style message, as ArcGIS Server leaks exceptions.
func decodeServiceParam(c *call) (map[string]any, bool) {
	text := strings.TrimSpace(c.param("service"))
	if text == "" {
		c.fail(500, msgNPE)
		return nil, false
	}
	if text[0] != '{' {
		c.fail(500, msgJSONObjectStart)
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var config map[string]any
	err := dec.Decode(&config)
	if err == nil {
		if _, tail := dec.Token(); !errors.Is(tail, io.EOF) {
			err = &json.SyntaxError{Offset: dec.InputOffset()}
		}
	}
	if err != nil || config == nil {
		var syn *json.SyntaxError
		offset := dec.InputOffset()
		if errors.As(err, &syn) {
			offset = syn.Offset
		}
		c.fail(500, msgJSONSyntax(offset+1))
		return nil, false
	}
	return config, true
}
