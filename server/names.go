package server

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxNameLen bounds ArcGIS folder and service names. ArcGIS Server refuses
// longer service names; anything longer is surely not a name.
const maxNameLen = 120

// knownTypes are the service types that may appear in a resource name: the
// types of the ServiceType enum (serviceTypes), the list in
// docs/upstream.md#service-types. A type outside it is refused before any
// upstream call, so no request is built from an unchecked name.
var knownTypes = func() map[string]bool {
	m := make(map[string]bool, len(serviceTypes))
	for t := range serviceTypes {
		m[t] = true
	}
	return m
}()

// serviceRef identifies a service: its folder ("" for the root), name and type.
type serviceRef struct {
	Folder, Name, Type string
}

// resourceName is the API resource name of the service.
func (r serviceRef) resourceName() string {
	if r.Folder == "" {
		return "services/" + r.Name + "." + r.Type
	}
	return "folders/" + r.Folder + "/services/" + r.Name + "." + r.Type
}

func folderResourceName(folder string) string { return "folders/" + folder }

// checkArcGISName reports why s is not an ArcGIS name (letters, digits,
// underscore; 1 to maxNameLen characters), or "" when it is one.
func checkArcGISName(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > maxNameLen:
		return fmt.Sprintf("must be at most %d characters", maxNameLen)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Sprintf("must contain only letters, digits and underscore (found %q)", c)
		}
	}
	return ""
}

// parseFolderName parses `folders/{folder}`.
func parseFolderName(field, name string) (string, error) {
	folder, ok := strings.CutPrefix(name, "folders/")
	if !ok {
		return "", invalidArgument(field, fmt.Sprintf("must have the form folders/{folder}, got %s", quoteName(name)))
	}
	if why := checkArcGISName(folder); why != "" {
		return "", invalidArgument(field, "folder name "+why)
	}
	return folder, nil
}

// parseServiceID parses `Name.Type`.
func parseServiceID(field, id string) (name, typ string, err error) {
	name, typ, ok := strings.Cut(id, ".")
	if !ok {
		return "", "", invalidArgument(field, fmt.Sprintf("must have the form Name.Type (for example SampleWorldCities.MapServer), got %s", quoteName(id)))
	}
	if why := checkArcGISName(name); why != "" {
		return "", "", invalidArgument(field, "service name "+why)
	}
	if !knownTypes[typ] {
		return "", "", invalidArgument(field, fmt.Sprintf("unknown service type %s", quoteName(typ)))
	}
	return name, typ, nil
}

// parseServiceName parses `services/{service}` or
// `folders/{folder}/services/{service}`.
func parseServiceName(field, name string) (serviceRef, error) {
	const form = "must have the form services/{Name.Type} or folders/{folder}/services/{Name.Type}"
	var ref serviceRef
	rest, ok := strings.CutPrefix(name, "services/")
	if !ok {
		f, r, ok := strings.Cut(strings.TrimPrefix(name, "folders/"), "/services/")
		if !ok || !strings.HasPrefix(name, "folders/") {
			return ref, invalidArgument(field, fmt.Sprintf("%s, got %s", form, quoteName(name)))
		}
		if why := checkArcGISName(f); why != "" {
			return ref, invalidArgument(field, "folder name "+why)
		}
		ref.Folder, rest = f, r
	}
	n, t, err := parseServiceID(field, rest)
	if err != nil {
		return ref, err
	}
	ref.Name, ref.Type = n, t
	return ref, nil
}

// parentAll is the wildcard folder of `folders/-`.
const parentAll = "-"

// parseParent parses a service collection parent: "" (root folder),
// `folders/{folder}`, or, when allowAll is set, `folders/-` (every folder,
// root included), returned as parentAll.
func parseParent(field, parent string, allowAll bool) (string, error) {
	if parent == "" {
		return "", nil
	}
	if allowAll && parent == "folders/-" {
		return parentAll, nil
	}
	return parseFolderName(field, parent)
}

// quoteName quotes a caller-supplied string for an error message, cut short
// so a huge input does not make a huge error.
func quoteName(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
