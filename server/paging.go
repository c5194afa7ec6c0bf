package server

import (
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
)

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// pageSize applies AIP-158's defaults: 0 means the default, larger than the
// maximum is coerced to it, negative is an error.
func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalidArgument("page_size", "must not be negative")
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

// A page token records the last resource name returned and the query it
// belongs to. Paging by key, not by offset, keeps pages stable when the
// upstream listing changes between calls: an item created or deleted
// meanwhile cannot make another item appear twice or be skipped.
const pageTokenVersion = "p1"

func encodePageToken(query, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenVersion + "\x00" + query + "\x00" + last))
}

// decodePageToken returns the last name of the previous page, or "" for the
// first page. A token from another query is INVALID_ARGUMENT.
func decodePageToken(token, query string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", invalidArgument("page_token", "is not a token this API issued")
	}
	parts := strings.SplitN(string(raw), "\x00", 3)
	if len(parts) != 3 || parts[0] != pageTokenVersion {
		return "", invalidArgument("page_token", "is not a token this API issued")
	}
	if parts[1] != query {
		return "", invalidArgument("page_token", fmt.Sprintf("belongs to another query (%s), not this one (%s)", quoteName(parts[1]), quoteName(query)))
	}
	return parts[2], nil
}

// checkPage validates a list request's page size and token before anything
// is sent upstream (paginate applies them afterwards) and returns the
// token's last key.
func checkPage(size int32, token, query string) (string, error) {
	if _, err := pageSize(size); err != nil {
		return "", err
	}
	return decodePageToken(token, query)
}

// paginate sorts items by key, skips those up to and including the token's
// last key, and returns at most size items and the next page token.
func paginate[T any](items []T, key func(T) string, query, token string, size int32) ([]T, string, error) {
	n, err := pageSize(size)
	if err != nil {
		return nil, "", err
	}
	after, err := decodePageToken(token, query)
	if err != nil {
		return nil, "", err
	}
	slices.SortStableFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	start := 0
	if after != "" {
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	items = items[start:]
	if len(items) <= n {
		return items, "", nil
	}
	page := items[:n]
	return page, encodePageToken(query, key(page[n-1])), nil
}
