package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigRedaction(t *testing.T) {
	const password, token = "app-password-do-not-leak", "app-token-do-not-leak"
	c := Config{Username: "siteadmin", Password: password, FixedToken: true, Token: token}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("start", "config", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("start", "config", c)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for how, s := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c), "%q": fmt.Sprintf("%q", c), "*Config %+v": fmt.Sprintf("%+v", &c),
		"slog": logs.String(), "json": string(b),
	} {
		if strings.Contains(s, password) || strings.Contains(s, token) {
			t.Errorf("%s leaks a secret: %s", how, s)
		}
		if !strings.Contains(s, "siteadmin") {
			t.Errorf("%s lost the non-secret fields: %s", how, s)
		}
	}
}
