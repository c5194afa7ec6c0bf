package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/arcgate/arcgate/simulator"
)

// httpGet fetches u, reads the whole body, and checks the status and that
// the body holds want.
func httpGet(ctx context.Context, hc *http.Client, u, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(want)) {
		return fmt.Errorf("GET %s: %d %.200s", strings.SplitN(u, "?", 2)[0], resp.StatusCode, body)
	}
	return nil
}

// getToken gets a token from the simulator for the direct rows.
func getToken(ctx context.Context, hc *http.Client, simURL string) (string, error) {
	form := url.Values{"username": {simulator.DefaultUsername}, "password": {simulator.DefaultPassword}, "client": {"requestip"}, "expiration": {"60"}, "f": {"json"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, simURL+"/arcgis/admin/generateToken", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("generateToken: %w", err)
	}
	if out.Token == "" {
		return "", errors.New("generateToken: no token in the answer")
	}
	return out.Token, nil
}

// simStats reads the simulator child's counters.
func simStats(ctx context.Context, hc *http.Client, simURL string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, simURL+"/_bench/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]int64
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
