// This file owns POST /check_sqs: checking the SQS settings a request gives,
// or every SQS hook of the app, and Stream's {status, error, duration}
// answer with sqshook's richer check results.

package streamapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sqshook/sqshook"
	"golang.org/x/sync/errgroup"
)

// DefaultCheckRegion is the region a check_sqs request's queue gets when it
// names none and its URL names none (an emulator's URL).
const DefaultCheckRegion = "us-east-1"

// CheckConcurrency is how many of an app's hooks one check_sqs request
// checks at a time; its answer lists them in the app's order.
const CheckConcurrency = 8

// checkRequest is Stream's CheckSQSRequest (sqs_url, sqs_key, sqs_secret)
// with the other settings of an sqs hook.
type checkRequest struct {
	SQSURL      string `json:"sqs_url"`
	SQSQueueURL string `json:"sqs_queue_url"`
	SQSKey      string `json:"sqs_key"`
	SQSSecret   string `json:"sqs_secret"`
	SQSRegion   string `json:"sqs_region"`
	SQSAuthType string `json:"sqs_auth_type"`
	SQSRoleARN  string `json:"sqs_role_arn"`
}

func (c checkRequest) empty() bool { return c == checkRequest{} }

// CheckResponse is POST /check_sqs's answer: Stream's Status ("ok" or
// "error"), Error and Duration, and one result per checked hook.
type CheckResponse struct {
	Status   string        `json:"status"`
	Error    string        `json:"error,omitempty"`
	Duration string        `json:"duration"`
	Results  []CheckedHook `json:"results"`
}

// CheckedHook is the check of one hook: its id ("" for settings given in
// the request) and sqshook's result (queue attributes, warnings, the step
// that failed; its duration in nanoseconds).
type CheckedHook struct {
	HookID string              `json:"hook_id,omitempty"`
	Result sqshook.CheckResult `json:"result"`
}

func (h *Handler) checkSQS(rq *request) {
	body, ok := h.readBody(rq, "CheckSQS")
	if !ok {
		return
	}
	var req checkRequest
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && string(trimmed) != "null" {
		if err := json.Unmarshal(trimmed, &req); err != nil {
			rq.fail(errInput("CheckSQS failed: the body must be a JSON object with sqs_url, sqs_key and sqs_secret (or empty): %v", err))
			return
		}
	}
	ctx := rq.r.Context()
	tenant := rq.app.Tenant
	stored, err := h.opts.Store.Load(ctx, tenant)
	if err != nil {
		h.opts.Logger.Error("streamapi: loading hooks failed", "tenant", tenant, "err", scrubbed(err, nil))
		rq.fail(errInternal("CheckSQS failed: the app's settings could not be loaded"))
		return
	}
	objs, err := decodeStored(stored)
	if err != nil {
		rq.fail(errInternal("CheckSQS failed: the app's stored settings are damaged"))
		return
	}
	rq.secrets = append(append(rq.secrets, secretsOf(objs)...), req.SQSSecret, req.SQSKey)
	hooks, err := sqsHooks(stored, AppSettings{})
	if err != nil {
		rq.fail(errInternal("CheckSQS failed: the app's stored settings are damaged"))
		return
	}

	var targets []sqshook.Hook
	if req.empty() {
		if len(hooks) == 0 {
			rq.ok(CheckResponse{Status: string(sqshook.CheckError), Duration: rq.duration(), Results: []CheckedHook{},
				Error: "the app has no SQS hook: add one to event_hooks, or give sqs_url, sqs_key and sqs_secret"})
			return
		}
		targets = hooks
	} else {
		hk, apiErr := requestHook(req, hooks)
		if apiErr != nil {
			rq.fail(apiErr)
			return
		}
		targets = []sqshook.Hook{hk}
	}

	// The hooks are checked a few at a time: one after the other, an app's
	// 50 hooks could take longer than the server's write timeout.
	results := make([]sqshook.CheckResult, len(targets))
	var g errgroup.Group
	g.SetLimit(CheckConcurrency)
	for i, hk := range targets {
		g.Go(func() error {
			results[i] = h.opts.Check(ctx, tenant, hk)
			return nil
		})
	}
	_ = g.Wait() // the closures return nil
	resp := CheckResponse{Status: string(sqshook.CheckOK), Results: make([]CheckedHook, 0, len(targets))}
	var errs []string
	for i, hk := range targets {
		res := results[i]
		res.Error = publicCheckError(res, hk, rq.secrets)
		id := hk.ID
		if !req.empty() {
			id = ""
		}
		resp.Results = append(resp.Results, CheckedHook{HookID: id, Result: res})
		if res.Status != sqshook.CheckOK {
			resp.Status = string(sqshook.CheckError)
			msg := res.Error
			if msg == "" {
				msg = "check failed"
			}
			if id != "" {
				msg = fmt.Sprintf("hook %q: %s", id, msg)
			}
			errs = append(errs, msg)
		}
	}
	resp.Error = strings.Join(errs, "; ")
	resp.Duration = rq.duration()
	rq.ok(resp)
}

// publicCheckError is res.Error as the customer sees it. sqshook's checks
// already describe failures by category (see sqshook.CheckResult); any
// Checker's text still passes through sqshook.RedactPublic, keeping what
// the result shows on purpose (the server's principal, the queue's ARN,
// the queue URL and role the hook names) and validation problems, which
// quote what the customer typed. The secrets go first, whole, so that no
// redaction cuts one into pieces that the response's scrub would miss.
func publicCheckError(res sqshook.CheckResult, h sqshook.Hook, secrets []string) string {
	if res.Error == "" || res.Step == sqshook.StepValidate {
		return res.Error
	}
	text := res.Error
	for _, s := range secrets {
		for _, form := range secretForms(s) {
			text = strings.ReplaceAll(text, form, SecretPlaceholder)
		}
	}
	return sqshook.RedactPublic(text, res.Principal, res.Queue.ARN, h.SQSQueueURL, h.SQSRoleARN, SecretPlaceholder)
}

// requestHook builds the hook a check_sqs request describes. The secret
// placeholder stands for the stored secret of the app's hook with the same
// queue URL and key.
func requestHook(req checkRequest, stored []sqshook.Hook) (sqshook.Hook, *APIError) {
	url := req.SQSURL
	if url == "" {
		url = req.SQSQueueURL
	}
	if url == "" {
		return sqshook.Hook{}, errProblems("CheckSQS", []problem{{field: "sqs_url", rule: "required (the queue URL), or send an empty body to check every SQS hook of the app", index: -1}})
	}
	hk := sqshook.Hook{
		Enabled: true, HookType: sqshook.HookTypeSQS, SQSQueueURL: url,
		SQSRegion: req.SQSRegion, SQSAuthType: req.SQSAuthType,
		SQSKey: req.SQSKey, SQSSecret: req.SQSSecret, SQSRoleARN: req.SQSRoleARN,
	}
	if hk.SQSRegion == "" {
		hk.SQSRegion = DefaultCheckRegion
		if q, err := sqshook.ParseQueueURL(url); err == nil {
			hk.SQSRegion = q.Region
		}
	}
	if hk.SQSAuthType == "" {
		switch {
		case hk.SQSKey != "" || hk.SQSSecret != "":
			hk.SQSAuthType = sqshook.AuthKeys
		case hk.SQSRoleARN != "":
			hk.SQSAuthType = sqshook.AuthRole
		default:
			hk.SQSAuthType = sqshook.AuthResource
		}
	}
	if hk.SQSSecret == SecretPlaceholder || strings.HasPrefix(hk.SQSKey, "…") {
		found := false
		for _, s := range stored {
			if s.SQSQueueURL == url && (s.SQSKey == hk.SQSKey || maskKey(s.SQSKey) == hk.SQSKey) {
				hk.SQSKey = s.SQSKey
				if hk.SQSSecret == SecretPlaceholder {
					hk.SQSSecret = s.SQSSecret
				}
				found = true
				break
			}
		}
		if !found {
			return sqshook.Hook{}, errProblems("CheckSQS", []problem{{field: "sqs_secret", index: -1,
				rule: fmt.Sprintf("%q or a masked key stands for the stored credentials of the app's hook with this sqs_url and sqs_key; no such hook: give the credentials themselves", SecretPlaceholder)}})
		}
	}
	return hk, nil
}
