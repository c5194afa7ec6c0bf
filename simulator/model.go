package simulator

import (
	"crypto/sha256"
	"sort"
	"strings"
)

// Service states reported by status.
const (
	stateStarted = "STARTED"
	stateStopped = "STOPPED"
)

// folder is a services folder. The root folder has an empty name.
type folder struct {
	name         string // stored case
	description  string
	id           string
	webEncrypted bool
	isDefault    bool
	services     map[string]*service // key: serviceKey(name, type)
	ordered      []*service          // sorted by lower-case name, then type
}

// service is one configured service. Its configuration is kept as decoded
// JSON so that every key a client sends is returned unchanged.
type service struct {
	name            string // stored case (from the configuration's serviceName)
	typ             string
	id              string
	description     string
	config          map[string]any // never mutated once set; replaced on edit
	raw             []byte         // compact JSON of config, never mutated
	configuredState string
	realTimeState   string
	itemInfo        *itemInfoEntry // seeded on first use; guarded by Server.itemInfo.mu
}

// newFolder returns an empty folder.
func newFolder(name, description string, isDefault bool) *folder {
	return &folder{
		name:        name,
		description: description,
		id:          stableID("folder", strings.ToLower(name)),
		isDefault:   isDefault,
		services:    make(map[string]*service),
	}
}

// serviceKey is the lookup key of a service within its folder: names are
// case-insensitive, types are not.
func serviceKey(name, typ string) string { return strings.ToLower(name) + "." + typ }

// lookupFolder returns the folder for a lower-case key ("" is the root).
// The caller holds s.mu.
func (s *Server) lookupFolder(key string) *folder {
	if key == "" {
		return s.root
	}
	return s.folders[key]
}

// add inserts svc, keeping the listing order.
func (f *folder) add(svc *service) {
	f.services[serviceKey(svc.name, svc.typ)] = svc
	i := sort.Search(len(f.ordered), func(i int) bool { return !serviceLess(f.ordered[i], svc) })
	f.ordered = append(f.ordered, nil)
	copy(f.ordered[i+1:], f.ordered[i:])
	f.ordered[i] = svc
}

// remove deletes the service with the given key.
func (f *folder) remove(key string) {
	svc, ok := f.services[key]
	if !ok {
		return
	}
	delete(f.services, key)
	for i, o := range f.ordered {
		if o == svc {
			f.ordered = append(f.ordered[:i], f.ordered[i+1:]...)
			break
		}
	}
}

// serviceLess orders services by lower-case name, then type.
func serviceLess(a, b *service) bool {
	an, bn := strings.ToLower(a.name), strings.ToLower(b.name)
	if an != bn {
		return an < bn
	}
	return a.typ < b.typ
}

// newService builds a started service from its configuration, filling the
// id key when absent.
func newService(folderName string, config map[string]any) *service {
	svc := &service{configuredState: stateStarted, realTimeState: stateStarted}
	svc.setConfig(folderName, config)
	return svc
}

// setConfig replaces the configuration and the values derived from it.
// serviceName and type must be strings (validated by the caller).
func (svc *service) setConfig(folderName string, config map[string]any) {
	svc.name, _ = config["serviceName"].(string)
	svc.typ, _ = config["type"].(string)
	svc.description, _ = config["description"].(string)
	if id, ok := config["id"].(string); ok && id != "" {
		svc.id = id
	} else {
		if svc.id == "" {
			svc.id = stableID("service", strings.ToLower(folderName), serviceKey(svc.name, svc.typ))
		}
		config["id"] = svc.id
	}
	svc.config = config
	svc.raw = mustJSON(config)
}

// stableID derives a deterministic 21-character id (like the
// "sof08bnwpeha4gw6vwcf5" ids of newer servers) from its parts, so that
// tests see the same ids on every run.
func stableID(parts ...string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	out := make([]byte, 21)
	for i := range out {
		out[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(out)
}

// validName reports whether name is a valid folder or service name: ASCII
// letters, digits and underscores only.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}
