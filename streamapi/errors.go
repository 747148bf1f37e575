// This file owns the responses: Stream's error shape, its error codes, the
// "duration" every response carries, and the last scrub of stored secrets
// from every response body.

package streamapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// Stream's API error codes used by the handler.
const (
	CodeInternal      = -1 // the server failed (storage, applying the hooks)
	CodeInput         = 4  // the request is malformed or its settings invalid
	CodeAuth          = 5  // authentication failed; one code for every reason
	CodeRateLimit     = 9  // too many requests (HTTP 429): check_sqs over its rate
	CodeNotFound      = 16 // no such endpoint
	CodePayloadTooBig = 22 // too large (HTTP 413): a body, a hook or an app's settings
	CodeTimeout       = 23 // the request body did not arrive in time (HTTP 408)
)

// moreInfo is where Stream documents its error responses.
const moreInfo = "https://getstream.io/chat/docs/api_errors_response"

// APIError is an error response in Stream's shape. Message says what is
// wrong; ExceptionFields maps each bad field ("event_hooks[1].sqs_secret")
// to the rule it breaks; MoreInfo names each hook with its problems, or
// links to Stream's error documentation.
type APIError struct {
	Code            int               `json:"code"`
	Message         string            `json:"message"`
	ExceptionFields map[string]string `json:"exception_fields,omitempty"`
	StatusCode      int               `json:"StatusCode"`
	Duration        string            `json:"duration"`
	MoreInfo        string            `json:"more_info"`
	Details         []int             `json:"details"`
}

func (e *APIError) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Message) }

// authMessage is the one message of every authentication refusal.
const authMessage = "authentication failed: the api_key, the Authorization token (a server token signed " +
	"with HS256 and the app's secret) or the stream-auth-type header is not valid"

func errAuth() *APIError {
	return &APIError{Code: CodeAuth, StatusCode: http.StatusUnauthorized, Message: authMessage, MoreInfo: moreInfo}
}

func errNotFound(path string) *APIError {
	return &APIError{Code: CodeNotFound, StatusCode: http.StatusNotFound,
		Message: fmt.Sprintf("%s: no such endpoint (this server serves GET /app, PATCH /app and POST /check_sqs, also under /api/v2)", path), MoreInfo: moreInfo}
}

func errMethod(method, path, allowed string) *APIError {
	return &APIError{Code: CodeInput, StatusCode: http.StatusMethodNotAllowed,
		Message: fmt.Sprintf("%s %s: method not allowed (allowed: %s)", method, path, allowed), MoreInfo: moreInfo}
}

func errInput(format string, args ...any) *APIError {
	return &APIError{Code: CodeInput, StatusCode: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), MoreInfo: moreInfo}
}

// errTooBig reports something larger than its limit (Stream's "Payload Too
// Big"): a request body, a hook, an app's settings.
func errTooBig(format string, args ...any) *APIError {
	return &APIError{Code: CodePayloadTooBig, StatusCode: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf(format, args...), MoreInfo: moreInfo}
}

// errTimeout reports a request that did not arrive in time (Stream's
// "Request Timeout").
func errTimeout(format string, args ...any) *APIError {
	return &APIError{Code: CodeTimeout, StatusCode: http.StatusRequestTimeout, Message: fmt.Sprintf(format, args...), MoreInfo: moreInfo}
}

// errRateLimited reports a request refused by a Limiter; retry is how long
// until the next one may run.
func errRateLimited(op string, retry time.Duration) *APIError {
	return &APIError{Code: CodeRateLimit, StatusCode: http.StatusTooManyRequests, MoreInfo: moreInfo,
		Message: fmt.Sprintf("%s failed: too many requests for this app; try again in %s", op, retrySeconds(retry).String())}
}

// retrySeconds rounds a wait up to whole seconds, at least one, as the
// Retry-After header counts it.
func retrySeconds(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

func errInternal(what string) *APIError {
	return &APIError{Code: CodeInternal, StatusCode: http.StatusInternalServerError, Message: what, MoreInfo: moreInfo}
}

// problem is one broken rule of a request, with the hook it belongs to.
type problem struct {
	field  string // "event_hooks[1].sqs_secret"
	rule   string
	index  int    // the hook's index, -1 when the problem is not a hook's
	hookID string // the hook's id when it has one
}

// errProblems reports every problem of an operation ("UpdateApp") at once.
func errProblems(op string, ps []problem) *APIError {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].index < ps[j].index })
	fields := make(map[string]string, len(ps))
	msgs := make([]string, 0, len(ps))
	var info strings.Builder
	last := -2
	for _, p := range ps {
		if prev, dup := fields[p.field]; dup {
			fields[p.field] = prev + "; " + p.rule
		} else {
			fields[p.field] = p.rule
		}
		msgs = append(msgs, p.field+": "+p.rule)
		if p.index != last {
			if info.Len() > 0 {
				info.WriteString("; ")
			}
			if p.index >= 0 {
				fmt.Fprintf(&info, "hook event_hooks[%d]", p.index)
				if p.hookID != "" {
					fmt.Fprintf(&info, " (id %q)", p.hookID)
				}
				info.WriteString(": ")
			}
			last = p.index
		} else {
			info.WriteString(", ")
		}
		field := p.field
		if p.index >= 0 {
			field = strings.TrimPrefix(field, fmt.Sprintf("event_hooks[%d].", p.index))
		}
		info.WriteString(field + " " + p.rule)
	}
	return &APIError{
		Code: CodeInput, StatusCode: http.StatusBadRequest,
		Message:         fmt.Sprintf("%s failed with error: %q", op, strings.Join(msgs, "; ")),
		ExceptionFields: fields,
		MoreInfo:        info.String(),
	}
}

// request is one request being served.
type request struct {
	h     *Handler
	w     http.ResponseWriter
	r     *http.Request
	start time.Time
	app   App
	// secrets are removed from the response body whatever happens.
	secrets []string
}

// duration formats the time spent as Stream does ("1.23ms").
func (rq *request) duration() string {
	return fmt.Sprintf("%.2fms", float64(time.Since(rq.start).Microseconds())/1000)
}

// fail writes e with the request's duration.
func (rq *request) fail(e *APIError) {
	e.Duration = rq.duration()
	if e.Details == nil {
		e.Details = []int{}
	}
	rq.write(e.StatusCode, e)
}

// ok writes v (a struct with a Duration field set by set) with status 200.
func (rq *request) ok(v any) { rq.write(http.StatusOK, v) }

// write marshals v and removes every known secret from it: a response never
// carries a stored credential, whichever code path built it.
func (rq *request) write(status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"code":-1,"message":"response could not be encoded","StatusCode":500,"duration":"0.00ms","more_info":"","details":[]}`)
	}
	for _, s := range rq.secrets {
		for _, form := range secretForms(s) {
			quoted, _ := json.Marshal(form)
			body = bytes.ReplaceAll(body, quoted[1:len(quoted)-1], []byte(SecretPlaceholder))
		}
	}
	rq.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(body)
}

// secretForms returns the forms in which a secret may be echoed (by AWS, an
// SDK or a Checker): as it is, URL-encoded (real secrets hold "/" and "+")
// and with "/" JSON-escaped; none for a secret shorter than minScrubLen.
func secretForms(s string) []string {
	if len(s) < minScrubLen {
		return nil
	}
	forms := []string{s}
	for _, f := range []string{url.QueryEscape(s), url.PathEscape(s), strings.ReplaceAll(s, "/", `\/`)} {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

// minScrubLen is the shortest secret scrubbed from response bodies: shorter
// strings would mangle ordinary JSON (real AWS secrets have 40 characters).
const minScrubLen = 8
