package depcheck

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// This file checks the repository's citations of its upstream reference:
// code and docs cite docs/upstream.md by anchor (docs/upstream.md#tokens),
// every cited anchor must be a heading of that page, and nothing may cite
// the shared notes it was written from (the "fact" + " sheet"), which are
// not in the repo.

// repoRoot is the module root, relative to this package.
const repoRoot = "../.."

// upstreamDoc is the reference page, relative to the module root.
const upstreamDoc = "docs/upstream.md"

// skippedDirs are not scanned: generated code, dependencies, VCS data.
var skippedDirs = map[string]bool{".git": true, "gen": true, "node_modules": true, "third_party": true}

// maxScannedBytes bounds the size of a scanned file.
const maxScannedBytes = 4 << 20

// repoTextFiles returns the text files of the repository (outside
// skippedDirs), keyed by slash-separated path relative to the module root.
func repoTextFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != repoRoot && skippedDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxScannedBytes {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
			return nil // binary
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("walking the repository: %v", err)
	}
	if _, ok := files[upstreamDoc]; !ok {
		t.Fatalf("%s is missing", upstreamDoc)
	}
	return files
}

// sheetMention matches a mention of the shared notes by their name in any
// spelling, including one broken across a comment line.
var sheetMention = regexp.MustCompile(`(?i)\bfact(?:[ \t]+|[ \t]*\n[ \t]*(?://|#)?[ \t]*|-)?sheets?\b`)

// TestCitesNoSharedNotes fails when a file cites the shared notes
// instead of docs/upstream.md.
func TestCitesNoSharedNotes(t *testing.T) {
	files := repoTextFiles(t)
	for _, path := range sortedKeys(files) {
		b := files[path]
		for _, loc := range sheetMention.FindAllIndex(b, -1) {
			line := bytes.Count(b[:loc[0]], []byte("\n")) + 1
			t.Errorf("%s:%d: %q: cite %s#<anchor> instead (the shared notes are not in the repo)",
				path, line, b[loc[0]:loc[1]], upstreamDoc)
		}
	}
}

// citation matches a citation of the reference page by anchor.
var citation = regexp.MustCompile(regexp.QuoteMeta(upstreamDoc) + `#([\p{L}\p{N}_-]+)`)

// localLink matches an in-page link, [text](#anchor).
var localLink = regexp.MustCompile(`\]\(#([^)\s]+)\)`)

// TestUpstreamDocAnchors checks that every anchor of docs/upstream.md cited
// anywhere, and every in-page link of docs/upstream.md, names a heading of
// docs/upstream.md.
func TestUpstreamDocAnchors(t *testing.T) {
	files := repoTextFiles(t)
	doc := files[upstreamDoc]
	anchors := headingAnchors(string(doc))
	if len(anchors) == 0 {
		t.Fatalf("%s has no headings", upstreamDoc)
	}
	cited := 0
	for _, path := range sortedKeys(files) {
		b := files[path]
		for _, m := range citation.FindAllSubmatchIndex(b, -1) {
			cited++
			if a := string(b[m[2]:m[3]]); !anchors[a] {
				line := bytes.Count(b[:m[0]], []byte("\n")) + 1
				t.Errorf("%s:%d: %s#%s: no such heading anchor in %s", path, line, upstreamDoc, a, upstreamDoc)
			}
		}
	}
	if cited == 0 {
		t.Errorf("no file cites %s#<anchor>: is the scan broken?", upstreamDoc)
	}
	for _, m := range localLink.FindAllSubmatch(doc, -1) {
		if a := string(m[1]); !anchors[a] {
			t.Errorf("%s: in-page link #%s: no such heading anchor", upstreamDoc, a)
		}
	}
}

// TestHeadingSlug pins the slug rules the anchor check relies on.
func TestHeadingSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Tokens", "tokens"},
		{"Cancel, delete, purge", "cancel-delete-purge"},
		{"The ArcGIS Server admin API, as arcgate relies on it", "the-arcgis-server-admin-api-as-arcgate-relies-on-it"},
		{"`f=json` and friends", "fjson-and-friends"},
		{"snake_case and kebab-case", "snake_case-and-kebab-case"},
		{"Ünïcode stays", "ünïcode-stays"},
	} {
		if got := headingSlug(tc.heading); got != tc.want {
			t.Errorf("headingSlug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
	got := headingAnchors("# A\n\n```\n# not a heading\n```\n\n## A\n### B ###\n")
	want := map[string]bool{"a": true, "a-1": true, "b": true}
	if len(got) != len(want) {
		t.Errorf("headingAnchors = %v, want %v", got, want)
	}
	for a := range want {
		if !got[a] {
			t.Errorf("headingAnchors = %v, want %v", got, want)
		}
	}
}

// headingAnchors returns the anchors GitHub gives the ATX headings of a
// markdown document (outside fenced code blocks); a repeated slug gets
// "-1", "-2", ... appended, as GitHub does.
func headingAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if len(line)-len(text) > 6 || (text != "" && text[0] != ' ' && text[0] != '\t') {
			continue
		}
		text = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(text), "#"))
		slug := headingSlug(text)
		if n := seen[slug]; n > 0 {
			seen[slug] = n + 1
			slug = slug + "-" + strconv.Itoa(n)
		} else {
			seen[slug] = 1
		}
		anchors[slug] = true
	}
	return anchors
}

// headingSlug is GitHub's anchor for a heading: lower case, letters,
// digits, '-' and '_' kept, spaces turned into '-', everything else
// dropped.
func headingSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestDocLinksResolve checks every relative link of README.md and
// docs/*.md: the file it names exists, and its #anchor names a heading of
// that file (or of the linking file, for a bare #anchor). The README was
// split into docs/; a link left pointing at a section that moved fails
// here.
func TestDocLinksResolve(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join(repoRoot, "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	anchorsOf := map[string]map[string]bool{}
	anchors := func(path string) map[string]bool {
		if a, ok := anchorsOf[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		anchorsOf[path] = headingAnchors(string(b))
		return anchorsOf[path]
	}
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s links to %s, which does not exist", doc, target)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !anchors(path)[anchor] {
				t.Errorf("%s links to %s: no such heading", doc, target)
			}
		}
	}
}
