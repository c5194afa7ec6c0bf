package upstream

import (
	"bytes"
	"strings"
)

// This file holds the one-pass decoder of service configurations, the
// answer of every GetService call. encoding/json checks the body and then
// decodes it by reflection, calling each tolerant scalar type's
// UnmarshalJSON and allocating a string per number; this decoder walks the
// bytes once with the folder listing's scanner (listingScan,
// listingdecode.go), takes plain strings as slices of one copy of the body
// and hands every value in a form it does not read itself to the same
// tolerant types.

// serviceConfigKeys are the keys ServiceConfig models, in the order of the
// bits decodeServiceConfigFast marks them with.
var serviceConfigKeys = []string{
	"serviceName", "type", "description", "capabilities", "clusterName",
	"minInstancesPerNode", "maxInstancesPerNode", "instancesPerContainer",
	"maxWaitTime", "maxIdleTime", "maxUsageTime", "maxStartupTime",
	"recycleInterval", "recycleStartTime", "loadBalancing", "isolationLevel",
	"provider", "id", "private", "properties", "extensions",
}

// decodeServiceConfigFast decodes a service configuration from b as
// decodeJSON does, checking in the same pass that b is JSON (jsonscan.go).
// It reports false for anything that is not JSON and anything it does not
// handle the way encoding/json does: not an object, an escaped key, a key that
// differs from a modelled one only by case (encoding/json matches keys
// without regard to case), a modelled key sent twice (encoding/json merges
// a second "properties" into the first), an escaped or invalid property
// key, a value the tolerant types reject. The caller then decodes b the
// encoding/json way, so both give the same configuration or error.
func decodeServiceConfigFast(b []byte) (ServiceConfig, bool) {
	c, ok, _ := scanServiceConfig(b)
	return c, ok
}

// scanServiceConfig is decodeServiceConfigFast, also reporting whether b
// has a top-level key that may make it an error envelope
// (listingScan.topKey).
func scanServiceConfig(b []byte) (_ ServiceConfig, ok, envelope bool) {
	d := listingScan{b: b, s: string(b)}
	var c ServiceConfig
	var seen uint32
	ok = d.object(func(key string) bool {
		d.topKey(key)
		n := -1
		for i, k := range serviceConfigKeys {
			if k == key {
				n = i
				break
			}
		}
		if n < 0 {
			return d.other(key, serviceConfigKeys)
		}
		if seen&(1<<n) != 0 {
			return false
		}
		seen |= 1 << n
		switch n {
		case 0:
			return d.text(&c.ServiceName)
		case 1:
			return d.text(&c.Type)
		case 2:
			return d.text(&c.Description)
		case 3:
			return d.text(&c.Capabilities)
		case 4:
			return d.text(&c.ClusterName)
		case 5:
			return d.int(&c.MinInstancesPerNode)
		case 6:
			return d.int(&c.MaxInstancesPerNode)
		case 7:
			return d.int(&c.InstancesPerContainer)
		case 8:
			return d.int(&c.MaxWaitTime)
		case 9:
			return d.int(&c.MaxIdleTime)
		case 10:
			return d.int(&c.MaxUsageTime)
		case 11:
			return d.int(&c.MaxStartupTime)
		case 12:
			return d.int(&c.RecycleInterval)
		case 13:
			return d.text(&c.RecycleStartTime)
		case 14:
			return d.text(&c.LoadBalancing)
		case 15:
			return d.text(&c.IsolationLevel)
		case 16:
			return d.text(&c.Provider)
		case 17:
			return d.text(&c.ID)
		case 18:
			return d.bool(&c.Private)
		case 19:
			return d.textMap(&c.Properties)
		default:
			return d.extensions(&c.Extensions)
		}
	})
	if !ok || d.end() != len(b) {
		return ServiceConfig{}, false, false
	}
	c.src = bytes.Clone(b)
	c.received = digestOf(c.src)
	return c, true, d.envelope
}

// span returns the value at d.i without the white space after it, and
// moves past it.
func (d *listingScan) span() ([]byte, bool) {
	start := d.i
	end := validValue(d.b, start)
	if end < 0 || end == start {
		return nil, false
	}
	d.i = end
	for end > start && (d.b[end-1] == ' ' || d.b[end-1] == '\t' || d.b[end-1] == '\n' || d.b[end-1] == '\r') {
		end--
	}
	return d.b[start:end], true
}

// int decodes a jsonInt at d.i into dst: a plain decimal integer here,
// anything else by jsonInt.
func (d *listingScan) int(dst *int) bool {
	if d.i >= len(d.b) {
		return false
	}
	raw, ok := d.span()
	if !ok {
		return false
	}
	if n, ok := plainInt(raw); ok {
		*dst = n
		return true
	}
	var n jsonInt
	if n.UnmarshalJSON(raw) != nil {
		return false
	}
	*dst = int(n)
	return true
}

// plainInt parses an optional minus and 1 to 18 decimal digits, as
// strconv.ParseInt would.
func plainInt(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// textMap decodes a map[string]anyText at d.i into dst, as textMap
// converts it: plain strings here, other values by anyText.
func (d *listingScan) textMap(dst *map[string]string) bool {
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		*dst = nil
		return true
	}
	m := map[string]string{}
	ok := d.object(func(key string) bool {
		if !plainText(key) {
			return false
		}
		start := d.i
		raw, ok := d.span()
		if !ok {
			return false
		}
		if s, ok := d.plainAt(start, start+len(raw)); ok {
			m[key] = s
			return true
		}
		var t anyText
		if t.UnmarshalJSON(raw) != nil {
			return false
		}
		m[key] = string(t)
		return true
	})
	if ok {
		*dst = m
	}
	return ok
}

// extensions decodes the extensions at d.i into dst as decodeJSON does
// (each by Extension.UnmarshalJSON): an object by d.extension, or else
// (null, a key sent twice, ...) by Extension.UnmarshalJSON itself.
func (d *listingScan) extensions(dst *[]Extension) bool {
	out := []Extension{}
	ok, null := d.array(func() bool {
		start := d.i
		var x Extension
		if d.extension(&x) {
			out = append(out, x)
			return true
		}
		d.i = start
		raw, ok := d.span()
		if !ok {
			return false
		}
		if x.UnmarshalJSON(raw) != nil {
			return false
		}
		out = append(out, x)
		return true
	})
	if ok {
		*dst = nil
		if !null {
			*dst = out
		}
	}
	return ok
}

// extensionKeys are the keys Extension models.
var extensionKeys = []string{"typeName", "capabilities", "enabled", "properties"}

// extension decodes the extension object at d.i into x as
// Extension.UnmarshalJSON does, or reports false (for the same reasons
// as decodeServiceConfigFast) with d.i anywhere in it.
func (d *listingScan) extension(x *Extension) bool {
	start := d.i
	if start >= len(d.b) || d.b[start] != '{' {
		return false
	}
	var seen uint8
	ok := d.object(func(key string) bool {
		n := -1
		for i, k := range extensionKeys {
			if k == key {
				n = i
				break
			}
		}
		if n < 0 {
			return d.other(key, extensionKeys)
		}
		if seen&(1<<n) != 0 {
			return false
		}
		seen |= 1 << n
		switch n {
		case 0:
			return d.text(&x.TypeName)
		case 1:
			return d.text(&x.Capabilities)
		case 2:
			return d.bool(&x.Enabled)
		default:
			return d.textMap(&x.Properties)
		}
	})
	if !ok {
		return false
	}
	x.src = bytes.Clone(d.b[start:d.i])
	return true
}
