package streamapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sqshook/sqshook/streamapi"
)

func TestAuthRefusalsAreAllTheSame(t *testing.T) {
	e := newEnv(t, nil)
	// App B has a hook: nothing below may read or change it.
	wantOK(t, "B's update", e.asB(t, http.MethodPatch, "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "b-queue")}}))

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"server": true}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"server": true}).SignedString([]byte(secretA))
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Hour
	cases := []struct {
		name, key, token, authType string
	}{
		{"wrong secret", keyA, serverToken(t, "not-the-secret-of-app-a-at-all"), "jwt"},
		{"wrong api key", "no-such-key", serverToken(t, secretA), "jwt"},
		{"no api key", "", serverToken(t, secretA), "jwt"},
		{"user token", keyA, signToken(t, secretA, jwt.MapClaims{"user_id": "tommaso"}), "jwt"},
		{"server claim not a bool", keyA, signToken(t, secretA, jwt.MapClaims{"server": "true"}), "jwt"},
		{"alg none", keyA, none, "jwt"},
		{"HS512", keyA, hs512, "jwt"},
		{"other app's secret", keyA, serverToken(t, secretB), "jwt"},
		{"expired", keyA, signToken(t, secretA, jwt.MapClaims{"server": true, "exp": time.Now().Add(-hour).Unix()}), "jwt"},
		{"issued in the future", keyA, signToken(t, secretA, jwt.MapClaims{"server": true, "iat": time.Now().Add(hour).Unix()}), "jwt"},
		{"iat not a number", keyA, signToken(t, secretA, jwt.MapClaims{"server": true, "iat": "yesterday"}), "jwt"},
		{"not yet valid", keyA, signToken(t, secretA, jwt.MapClaims{"server": true, "nbf": time.Now().Add(hour).Unix()}), "jwt"},
		{"no token", keyA, "", "jwt"},
		{"garbage token", keyA, "a.b.c", "jwt"},
		{"anonymous auth type", keyA, serverToken(t, secretA), "anonymous"},
		{"no auth type", keyA, serverToken(t, secretA), ""},
	}
	var first string
	for _, c := range cases {
		for _, ep := range []struct{ method, path string }{{"GET", "/app"}, {"PATCH", "/app"}, {"POST", "/check_sqs"}} {
			req, _ := http.NewRequest(ep.method, e.srv.URL+ep.path+"?api_key="+c.key, strings.NewReader(`{"event_hooks": []}`))
			req.Header.Set("Authorization", c.token)
			if c.authType != "" {
				req.Header.Set("stream-auth-type", c.authType)
			}
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r := decode(t, res)
			msg := wantError(t, c.name+" "+ep.method+" "+ep.path, r, http.StatusUnauthorized, streamapi.CodeAuth)
			if first == "" {
				first = msg
			}
			if msg != first {
				t.Errorf("%s: message %q differs from %q: refusals must not tell their reasons apart", c.name, msg, first)
			}
		}
	}
	// Nothing was changed: B still has its hook, A has none.
	if got := len(hooksOf(t, e.asB(t, "GET", "/app", nil))); got != 1 {
		t.Errorf("B has %d hooks after the refused requests, want 1", got)
	}
	if got := len(hooksOf(t, e.asA(t, "GET", "/app", nil))); got != 0 {
		t.Errorf("A has %d hooks after the refused requests, want 0", got)
	}
	if strings.Contains(e.logs.String(), secretA) || strings.Contains(e.logs.String(), "eyJ") {
		t.Errorf("a secret or token was logged:\n%s", e.logs.String())
	}
}

func TestAuthAccepts(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct{ name, token string }{
		{"Stream SDK token", serverToken(t, secretA)},
		{"Bearer prefix", "Bearer " + serverToken(t, secretA)},
		{"future exp", signToken(t, secretA, jwt.MapClaims{"server": true, "exp": time.Now().Add(time.Hour).Unix()})},
		{"iat now", signToken(t, secretA, jwt.MapClaims{"server": true, "iat": time.Now().Unix()})},
	}
	for _, c := range cases {
		wantOK(t, c.name, e.call(t, "GET", "/app", keyA, c.token, nil))
	}
}

func TestAuthExpiryUsesTheClock(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, func(o *streamapi.Options) { o.Now = func() time.Time { return now }; o.Leeway = -1 })
	tok := signToken(t, secretA, jwt.MapClaims{"server": true, "exp": now.Add(time.Second).Unix()})
	wantOK(t, "before exp", e.call(t, "GET", "/app", keyA, tok, nil))
	now = now.Add(2 * time.Second)
	wantError(t, "after exp", e.call(t, "GET", "/app", keyA, tok, nil), http.StatusUnauthorized, streamapi.CodeAuth)
}

func TestAppWithoutSecretIsRefused(t *testing.T) {
	e := newEnv(t, func(o *streamapi.Options) {
		o.Apps = streamapi.AppMap{"empty": {Tenant: "t"}}
	})
	// A token signed with an empty key must not open an app without secret.
	tok := signToken(t, "", jwt.MapClaims{"server": true})
	wantError(t, "empty secret", e.call(t, "GET", "/app", "empty", tok, nil), http.StatusUnauthorized, streamapi.CodeAuth)
}

func TestAppHidesItsSecret(t *testing.T) {
	a := streamapi.App{Tenant: "t1", Secret: []byte(secretA)}
	var logged strings.Builder
	slogTo(&logged).Info("app", "app", a)
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s %q", a, a, a, a, a), a.String(), logged.String()} {
		if strings.Contains(s, secretA) || strings.Contains(s, fmt.Sprint([]byte(secretA))) {
			t.Errorf("the app's secret shows in %q", s)
		}
		if !strings.Contains(s, "t1") {
			t.Errorf("%q does not show the tenant", s)
		}
	}
}
