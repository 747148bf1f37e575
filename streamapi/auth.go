// This file owns authentication: Stream's server-side scheme (api_key query
// parameter, Authorization JWT signed with HS256 and the app's secret,
// "server": true, stream-auth-type: jwt), with one answer for every refusal.

package streamapi

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// authenticate returns the app the request authenticates as. Unknown api
// keys are verified against a random secret, so that they cost what a wrong
// signature costs; the signature is compared in constant time (HMAC verify).
func (h *Handler) authenticate(r *http.Request) (App, bool) {
	apiKey := r.URL.Query().Get("api_key")
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(token) > 7 && strings.EqualFold(token[:7], "Bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	authType := strings.ToLower(strings.TrimSpace(r.Header.Get("Stream-Auth-Type")))

	app, found := App{}, false
	if apiKey != "" {
		app, found = h.opts.Apps.Lookup(r.Context(), apiKey)
	}
	secret := h.dummySecret
	if found && len(app.Secret) > 0 {
		secret = app.Secret
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(h.opts.Now),
		jwt.WithLeeway(h.opts.Leeway),
		// As Stream does: a token issued in the future is refused.
		jwt.WithIssuedAt(),
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return secret, nil })
	server, _ := claims["server"].(bool)
	valid := err == nil && server
	// Every condition is evaluated whatever the others gave.
	ok := subtle.ConstantTimeEq(b2i(valid), 1) &
		subtle.ConstantTimeEq(b2i(found && len(app.Secret) > 0 && app.Tenant != ""), 1) &
		subtle.ConstantTimeCompare([]byte(authType), []byte("jwt"))
	if ok != 1 {
		return App{}, false
	}
	return app, true
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}
