// This file owns GET /app and PATCH /app: how the event_hooks array is
// shown (credentials hidden), how an update is read, checked and merged with
// the stored list (the credential write-back rule), bounded in size (per
// hook and per app), and how it is saved and applied atomically.

package streamapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/sqshook/sqshook"
)

// SecretPlaceholder is shown instead of every stored secret; written back
// unchanged, it keeps the stored secret (see the package documentation).
const SecretPlaceholder = "[REDACTED]"

// Hook kinds an event_hooks array may hold. Only sqs hooks are delivered by
// sqshook; the others are stored and returned unchanged.
var hookTypes = []string{sqshook.HookTypeSQS, "webhook", "sns", "pending_message"}

// secretFields and keyFields are the credential fields of every hook kind.
var (
	secretFields = []string{"sqs_secret", "sns_secret"}
	keyFields    = []string{"sqs_key", "sns_key"}
)

// readFields are the fields sqshook reads from an sqs hook. encoding/json
// matches field names without regard to case, so a hook may name none of
// these (nor a credential field) in another case: "SQS_SECRET" would be
// delivered with, yet shown and stored as an unknown field.
var readFields = []string{"id", "enabled", "hook_type", "sqs_queue_url", "sqs_region", "sqs_auth_type",
	"sqs_key", "sqs_secret", "sqs_role_arn", "event_types", "sqs_external_id", "external_id", "delete",
	"sqs_body_encoding"}

// foldedField returns the field of fields that name equals without regard
// to case (Unicode folding, as encoding/json matches), or "".
func foldedField(name string, fields ...[]string) string {
	for _, l := range fields {
		for _, f := range l {
			if strings.EqualFold(name, f) {
				return f
			}
		}
	}
	return ""
}

// keyFor is the access-key field that goes with a secret field.
func keyFor(secretField string) string { return strings.TrimSuffix(secretField, "_secret") + "_key" }

// hookObject is one hook as stored: every field the customer sent (Stream's
// objects carry more than sqshook reads, and other kinds carry their own).
type hookObject map[string]json.RawMessage

func (o hookObject) str(field string) (string, bool) {
	raw, ok := o[field]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func (o hookObject) setStr(field, v string) {
	b, _ := json.Marshal(v)
	o[field] = b
}

func decodeStored(stored []json.RawMessage) ([]hookObject, error) {
	out := make([]hookObject, 0, len(stored))
	for i, raw := range stored {
		var o hookObject
		if err := json.Unmarshal(raw, &o); err != nil || o == nil {
			return nil, fmt.Errorf("streamapi: stored hook %d is not a JSON object", i)
		}
		out = append(out, o)
	}
	return out, nil
}

// sqsHooks returns the sqs hooks of a stored list, as the Applier gets them,
// and the body encoding of each (hookEncoding).
func sqsHooks(stored []json.RawMessage, app AppSettings) ([]sqshook.Hook, error) {
	objs, err := decodeStored(stored)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	var encs []sqshook.Encoding
	for i, o := range objs {
		if t, _ := o.str("hook_type"); t == sqshook.HookTypeSQS {
			raws = append(raws, stored[i])
			encs = append(encs, hookEncoding(app, o))
		}
	}
	if len(raws) == 0 {
		return []sqshook.Hook{}, nil
	}
	doc, _ := json.Marshal(raws)
	hooks, err := sqshook.ParseHooks(doc)
	if err != nil {
		return nil, err
	}
	for i := range hooks {
		hooks[i].BodyEncoding = encs[i]
	}
	return hooks, nil
}

// secretsOf lists every credential value of a stored list, for scrubbing.
func secretsOf(objs []hookObject) []string {
	var out []string
	for _, o := range objs {
		for f := range o {
			if foldedField(f, secretFields, keyFields) == "" {
				continue
			}
			if s, _ := o.str(f); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// maskKey shows an access key id by its last four characters.
func maskKey(k string) string {
	if len(k) <= 8 {
		return SecretPlaceholder
	}
	return "…" + k[len(k)-4:]
}

// shown returns o as GET /app shows it: without credentials.
func shown(o hookObject) hookObject {
	c := make(hookObject, len(o))
	for k, v := range o {
		c[k] = v
	}
	// Fields are matched without regard to case, so that a credential
	// stored under another spelling is hidden too.
	for f := range c {
		s, isStr := c.str(f)
		switch {
		case !isStr && string(c[f]) != "null" && foldedField(f, secretFields, keyFields) != "":
			c.setStr(f, SecretPlaceholder) // not a string: shown as nothing else
		case s == "":
		case foldedField(f, secretFields) != "":
			c.setStr(f, SecretPlaceholder)
		case foldedField(f, keyFields) != "":
			c.setStr(f, maskKey(s))
		}
	}
	return c
}

// appResponse is GET /app's answer: the hooks at the top (JavaScript SDK)
// and in "app" (the other SDKs).
type appResponse struct {
	App        appSettings  `json:"app"`
	EventHooks []hookObject `json:"event_hooks"`
	shownSettings
	Duration string `json:"duration"`
}

type appSettings struct {
	EventHooks []hookObject `json:"event_hooks"`
	shownSettings
}

// shownSettings are the app's delivery settings as GET /app shows them.
type shownSettings struct {
	EnableHookPayloadCompression bool   `json:"enable_hook_payload_compression"`
	SQSBodyEncoding              string `json:"sqs_body_encoding"`
}

func showSettings(s AppSettings) shownSettings {
	enc := s.SQSBodyEncoding
	if enc == "" {
		enc = BodyEncodingStream
	}
	return shownSettings{EnableHookPayloadCompression: s.EnableHookPayloadCompression, SQSBodyEncoding: enc}
}

func (h *Handler) getApp(rq *request) {
	ctx := rq.r.Context()
	stored, err := h.opts.Store.Load(ctx, rq.app.Tenant)
	if err != nil {
		h.opts.Logger.Error("streamapi: loading hooks failed", "tenant", rq.app.Tenant, "err", scrubbed(err, nil))
		rq.fail(errInternal("GetApp failed: the app's settings could not be loaded"))
		return
	}
	// Settings stored before the bound was lowered are not decoded and
	// shown (twice) at any size.
	if n := listBytes(stored); n > h.opts.MaxAppSettingsBytes {
		h.opts.Logger.Warn("streamapi: stored hooks over MaxAppSettingsBytes", "tenant", rq.app.Tenant, "bytes", n, "limit", h.opts.MaxAppSettingsBytes)
		rq.fail(errTooBig("GetApp failed: the app's stored event_hooks take %d bytes, more than the limit of %d bytes per app; "+
			"replace them with PATCH /app (without explicit_event_hooks_deletion)", n, h.opts.MaxAppSettingsBytes))
		return
	}
	objs, err := decodeStored(stored)
	if err != nil {
		rq.fail(errInternal("GetApp failed: the app's stored settings are damaged"))
		return
	}
	settings, err := h.loadSettings(ctx, rq.app.Tenant)
	if err != nil {
		h.opts.Logger.Error("streamapi: loading app settings failed", "tenant", rq.app.Tenant, "err", scrubbed(err, nil))
		rq.fail(errInternal("GetApp failed: the app's settings could not be loaded"))
		return
	}
	rq.secrets = append(rq.secrets, secretsOf(objs)...)
	hooks := make([]hookObject, 0, len(objs))
	for _, o := range objs {
		hooks = append(hooks, shown(o))
	}
	ss := showSettings(settings)
	rq.ok(appResponse{App: appSettings{EventHooks: hooks, shownSettings: ss}, EventHooks: hooks, shownSettings: ss, Duration: rq.duration()})
}

// readBody reads a request body of at most MaxBodyBytes.
func (h *Handler) readBody(rq *request, op string) ([]byte, bool) {
	limit := h.opts.MaxBodyBytes
	if rq.r.ContentLength > limit {
		rq.fail(errTooLarge(op, limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(rq.w, rq.r.Body, limit))
	if err != nil {
		// The read error names the server's address: it is logged, never
		// answered.
		h.opts.Logger.Info("streamapi: reading a request body failed", "tenant", rq.app.Tenant, "remote", rq.r.RemoteAddr, "err", err)
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			rq.fail(errTooLarge(op, limit))
		case errors.As(err, &ne) && ne.Timeout():
			rq.fail(errTimeout("%s failed: the request body did not arrive in time; nothing was changed", op))
		default:
			rq.fail(errInput("%s failed: the request body could not be read (cut short or malformed); nothing was changed", op))
		}
		return nil, false
	}
	return body, true
}

func errTooLarge(op string, limit int64) *APIError {
	return errTooBig("%s failed: the request body is larger than the limit of %d bytes", op, limit)
}

// listBytes is the size of a hook list as one JSON array: what the app
// stores.
func listBytes(l []json.RawMessage) int {
	n := 2 + max(len(l)-1, 0) // brackets and commas
	for _, r := range l {
		n += len(r)
	}
	return n
}

// sizeProblems reports each hook of newRaw larger than MaxHookBytes, then
// a list larger than MaxAppSettingsBytes.
func (h *Handler) sizeProblems(newObjs []hookObject, newRaw []json.RawMessage) *APIError {
	var ps []problem
	for i, raw := range newRaw {
		if len(raw) > h.opts.MaxHookBytes {
			id, _ := newObjs[i].str("id")
			ps = append(ps, problem{field: fmt.Sprintf("event_hooks[%d]", i), index: i, hookID: id,
				rule: fmt.Sprintf("takes %d bytes, more than the limit of %d bytes per hook (unknown fields included)", len(raw), h.opts.MaxHookBytes)})
		}
	}
	if len(ps) > 0 {
		e := errProblems("UpdateApp", ps)
		e.Code, e.StatusCode = CodePayloadTooBig, http.StatusRequestEntityTooLarge
		return e
	}
	if n := listBytes(newRaw); n > h.opts.MaxAppSettingsBytes {
		return errTooBig("UpdateApp failed: event_hooks: the app's hooks would take %d bytes, more than the limit of %d bytes per app "+
			"(hooks of every kind and their unknown fields included; with explicit_event_hooks_deletion the stored hooks count too); "+
			"nothing was changed", n, h.opts.MaxAppSettingsBytes)
	}
	return nil
}

// updateRequest is the part of Stream's UpdateAppRequest this server serves.
type updateRequest struct {
	EventHooks                 *[]json.RawMessage
	ExplicitEventHooksDeletion bool
	// Compression and BodyEncoding are nil when the request leaves them.
	Compression  *bool
	BodyEncoding *string
}

// settingsChange reports whether the request sets an app setting.
func (r updateRequest) settingsChange() bool { return r.Compression != nil || r.BodyEncoding != nil }

// applyTo returns s with the request's settings.
func (r updateRequest) applyTo(s AppSettings) AppSettings {
	if r.Compression != nil {
		s.EnableHookPayloadCompression = *r.Compression
	}
	if r.BodyEncoding != nil {
		s.SQSBodyEncoding = *r.BodyEncoding
	}
	return s
}

// decodeUpdate reads PATCH /app's body; unknown settings are refused, not
// ignored, so a customer never believes a setting took effect.
func decodeUpdate(body []byte) (updateRequest, *APIError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		msg := "the body must be a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return updateRequest{}, errInput("UpdateApp failed: %s", msg)
	}
	var req updateRequest
	var unknown []string
	for name, raw := range fields {
		switch name {
		case "event_hooks":
			if string(bytes.TrimSpace(raw)) == "null" {
				continue // as if absent: no change
			}
			var list []json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				return updateRequest{}, errInput("UpdateApp failed: event_hooks: must be an array of hook objects")
			}
			req.EventHooks = &list
		case "explicit_event_hooks_deletion":
			if err := json.Unmarshal(raw, &req.ExplicitEventHooksDeletion); err != nil {
				return updateRequest{}, errInput("UpdateApp failed: explicit_event_hooks_deletion: must be true or false")
			}
		case "enable_hook_payload_compression":
			if string(bytes.TrimSpace(raw)) == "null" {
				continue
			}
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				return updateRequest{}, errInput("UpdateApp failed: enable_hook_payload_compression: must be true or false")
			}
			req.Compression = &b
		case "sqs_body_encoding":
			if string(bytes.TrimSpace(raw)) == "null" {
				continue
			}
			if msg := checkBodyEncoding(raw); msg != "" {
				return updateRequest{}, errInput("UpdateApp failed: sqs_body_encoding: %s", msg)
			}
			var v string
			_ = json.Unmarshal(raw, &v)
			req.BodyEncoding = &v
		default:
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return updateRequest{}, errInput("UpdateApp failed: %s: not supported by this server, which serves only the "+
			"event_hooks settings (event_hooks, explicit_event_hooks_deletion, enable_hook_payload_compression, "+
			"sqs_body_encoding); nothing was changed", strings.Join(unknown, ", "))
	}
	return req, nil
}

func (h *Handler) updateApp(rq *request) {
	body, ok := h.readBody(rq, "UpdateApp")
	if !ok {
		return
	}
	req, apiErr := decodeUpdate(body)
	if apiErr != nil {
		rq.fail(apiErr)
		return
	}
	if req.EventHooks == nil && !req.settingsChange() {
		rq.ok(struct {
			Duration string `json:"duration"`
		}{rq.duration()})
		return
	}
	if req.EventHooks != nil && len(*req.EventHooks) > h.opts.MaxHooks {
		rq.fail(errInput("UpdateApp failed: event_hooks: %d hooks, more than the limit of %d per app; nothing was changed", len(*req.EventHooks), h.opts.MaxHooks))
		return
	}
	settingsStore, keepsSettings := h.opts.Store.(SettingsStore)
	if req.settingsChange() && !keepsSettings {
		rq.fail(errInput("UpdateApp failed: enable_hook_payload_compression, sqs_body_encoding: this server does not keep app settings; nothing was changed"))
		return
	}

	ctx := rq.r.Context()
	tenant := rq.app.Tenant
	l := h.tenantLock(tenant)
	l.Lock()
	defer l.Unlock()
	store, unlock, err := h.lockStore(ctx, tenant)
	if err != nil {
		h.opts.Logger.Error("streamapi: locking hooks failed", "tenant", tenant, "err", scrubbed(err, nil))
		rq.fail(errInternal("UpdateApp failed: the app's settings could not be loaded; nothing was changed"))
		return
	}
	defer unlock()

	oldRaw, err := store.Load(ctx, tenant)
	if err != nil {
		h.opts.Logger.Error("streamapi: loading hooks failed", "tenant", tenant, "err", scrubbed(err, nil))
		rq.fail(errInternal("UpdateApp failed: the app's settings could not be loaded; nothing was changed"))
		return
	}
	old, err := decodeStored(oldRaw)
	if err != nil {
		rq.fail(errInternal("UpdateApp failed: the app's stored settings are damaged; nothing was changed"))
		return
	}
	oldSet, err := h.loadSettings(ctx, tenant)
	if err != nil {
		h.opts.Logger.Error("streamapi: loading app settings failed", "tenant", tenant, "err", scrubbed(err, nil))
		rq.fail(errInternal("UpdateApp failed: the app's settings could not be loaded; nothing was changed"))
		return
	}
	newSet := req.applyTo(oldSet)
	rq.secrets = append(rq.secrets, secretsOf(old)...)

	newObjs, newRaw := old, oldRaw
	var sqs []sqshook.Hook
	if req.EventHooks != nil {
		// The request's own credentials are scrubbed from the answer too.
		for _, raw := range *req.EventHooks {
			var o hookObject
			if json.Unmarshal(raw, &o) == nil {
				rq.secrets = append(rq.secrets, secretsOf([]hookObject{o})...)
			}
		}
		var ps []problem
		newObjs, sqs, ps = h.merge(tenant, old, *req.EventHooks, req.ExplicitEventHooksDeletion)
		if len(ps) > 0 {
			rq.fail(errProblems("UpdateApp", ps))
			return
		}
		if len(newObjs) > h.opts.MaxHooks {
			rq.fail(errInput("UpdateApp failed: event_hooks: the app would have %d hooks, more than the limit of %d; nothing was changed", len(newObjs), h.opts.MaxHooks))
			return
		}
		newRaw = make([]json.RawMessage, len(newObjs))
		for i, o := range newObjs {
			newRaw[i], _ = json.Marshal(o)
		}
		if apiErr := h.sizeProblems(newObjs, newRaw); apiErr != nil {
			rq.fail(apiErr)
			return
		}
	} else if sqs, err = sqsHooks(oldRaw, newSet); err != nil {
		h.opts.Logger.Error("streamapi: stored hooks do not parse", "tenant", tenant, "err", scrubbed(err, rq.secrets))
		rq.fail(errInternal("UpdateApp failed: the app's stored settings are damaged; nothing was changed"))
		return
	}
	for j, i := range sqsIndexes(newObjs) { // each hook in its app's encoding
		sqs[j].BodyEncoding = hookEncoding(newSet, newObjs[i])
	}

	// Save, then apply; when applying fails, save the old settings back.
	secrets := rq.secrets
	saveHooks, saveSettings := req.EventHooks != nil, req.settingsChange() && newSet != oldSet
	if saveHooks {
		if err := store.Save(ctx, tenant, newRaw); err != nil {
			h.opts.Logger.Error("streamapi: saving hooks failed", "tenant", tenant, "err", scrubbed(err, secrets))
			rq.fail(errInternal("UpdateApp failed: the settings could not be saved; nothing was changed"))
			return
		}
	}
	if saveSettings {
		if err := settingsStore.SaveSettings(ctx, tenant, newSet); err != nil {
			h.opts.Logger.Error("streamapi: saving app settings failed", "tenant", tenant, "err", scrubbed(err, secrets))
			var rbErr error
			if saveHooks {
				rbErr = store.Save(context.WithoutCancel(ctx), tenant, oldRaw)
			}
			if rbErr != nil {
				h.opts.Logger.Error("streamapi: restoring hooks failed", "tenant", tenant, "err", scrubbed(rbErr, secrets))
				rq.fail(errInternal("UpdateApp failed: the app settings could not be saved, and the previous hooks could not be restored in storage: " +
					"storage holds the new hooks, delivery the old ones"))
				return
			}
			rq.fail(errInternal("UpdateApp failed: the settings could not be saved; nothing was changed"))
			return
		}
	}
	if err := h.opts.Applier.ApplyHooks(ctx, tenant, sqs); err != nil {
		// The rollback must happen even when the client has hung up (which
		// may be why applying failed).
		var rbErr error
		if saveHooks {
			rbErr = store.Save(context.WithoutCancel(ctx), tenant, oldRaw)
		}
		if saveSettings {
			rbErr = errors.Join(rbErr, settingsStore.SaveSettings(context.WithoutCancel(ctx), tenant, oldSet))
		}
		h.opts.Logger.Error("streamapi: applying hooks failed", "tenant", tenant, "err", scrubbed(err, secrets), "rollback_err", scrubbed(rbErr, secrets))
		if rbErr != nil {
			rq.fail(errInternal("UpdateApp failed: the hooks could not be applied, and the previous settings could not be restored in storage: " +
				"storage holds the new settings, delivery the old ones"))
			return
		}
		var ve *sqshook.ValidationError
		if errors.As(err, &ve) && saveHooks {
			rq.fail(errProblems("UpdateApp", hookProblems(ve, sqsIndexes(newObjs), newObjs)))
			return
		}
		rq.fail(errInternal("UpdateApp failed: the hooks could not be applied; nothing was changed"))
		return
	}
	h.opts.Logger.Info("streamapi: event hooks updated", "tenant", tenant, "hooks", len(newObjs), "sqs_hooks", len(sqs),
		"compression", newSet.EnableHookPayloadCompression, "sqs_body_encoding", showSettings(newSet).SQSBodyEncoding)
	rq.ok(struct {
		Duration string `json:"duration"`
	}{rq.duration()})
}

// sqsIndexes maps the position of each sqs hook among the sqs hooks to its
// position in event_hooks.
func sqsIndexes(objs []hookObject) []int {
	var idx []int
	for i, o := range objs {
		if t, _ := o.str("hook_type"); t == sqshook.HookTypeSQS {
			idx = append(idx, i)
		}
	}
	return idx
}

// hookProblems turns sqshook's problems ("hooks[j].field", j counting the
// sqs hooks) into problems of event_hooks.
func hookProblems(ve *sqshook.ValidationError, idx []int, objs []hookObject) []problem {
	var ps []problem
	for _, p := range ve.Problems {
		var j int
		rest := ""
		if n, _ := fmt.Sscanf(p.Field, "hooks[%d]", &j); n == 1 && j >= 0 && j < len(idx) {
			rest = strings.TrimPrefix(p.Field, fmt.Sprintf("hooks[%d]", j))
			i := idx[j]
			id, _ := objs[i].str("id")
			ps = append(ps, problem{field: fmt.Sprintf("event_hooks[%d]%s", i, rest), rule: p.Rule, index: i, hookID: id})
			continue
		}
		ps = append(ps, problem{field: "event_hooks", rule: p.Field + ": " + p.Rule, index: -1})
	}
	return ps
}

// merge builds the app's new hook list from the request: the list as given
// (or, with explicitDeletion, the stored list with the given hooks replaced,
// added or, marked "delete": true, removed), with stored credentials written
// back where the request holds what GET showed, ids filled in, and the sqs
// hooks parsed and validated. It returns every problem found.
func (h *Handler) merge(tenant string, old []hookObject, in []json.RawMessage, explicitDeletion bool) ([]hookObject, []sqshook.Hook, []problem) {
	var ps []problem
	add := func(i int, id, field, rule string) {
		f := fmt.Sprintf("event_hooks[%d]", i)
		if field != "" {
			f += "." + field
		}
		ps = append(ps, problem{field: f, rule: rule, index: i, hookID: id})
	}
	byID := make(map[string]hookObject, len(old))
	for _, o := range old {
		if id, _ := o.str("id"); id != "" {
			byID[id] = o
		}
	}

	type incoming struct {
		obj    hookObject
		delete bool
	}
	given := make([]incoming, 0, len(in))
	for i, raw := range in {
		var o hookObject
		if err := json.Unmarshal(raw, &o); err != nil || o == nil {
			add(i, "", "", "must be a JSON object")
			given = append(given, incoming{})
			continue
		}
		id, isStr := o.str("id")
		if _, has := o["id"]; has && !isStr {
			add(i, "", "id", "must be a string")
		}
		for _, f := range slices.Sorted(maps.Keys(o)) {
			if want := foldedField(f, readFields, secretFields, keyFields); want != "" && want != f {
				add(i, id, f, fmt.Sprintf("field names are case-sensitive: write %q", want))
			}
			if _, isStr := o.str(f); !isStr && foldedField(f, secretFields, keyFields) == f && string(o[f]) != "null" {
				add(i, id, f, "must be a string")
			}
		}
		var del bool
		if raw, ok := o["delete"]; ok {
			if json.Unmarshal(raw, &del) != nil {
				add(i, id, "delete", "must be true or false")
			}
			delete(o, "delete")
		}
		t, _ := o.str("hook_type")
		switch {
		case del && t == "":
			// A deletion names the hook by its id alone: every field of
			// the SDKs' EventHook is optional.
			if explicitDeletion && id == "" {
				add(i, id, "id", "delete: required: the id of the stored hook to delete")
			}
		case t == "":
			add(i, id, "hook_type", fmt.Sprintf("required; one of %q", hookTypes))
		case !slices.Contains(hookTypes, t):
			add(i, id, "hook_type", fmt.Sprintf("unknown hook type %q; one of %q", t, hookTypes))
		}
		if raw, ok := o["sqs_body_encoding"]; ok && !del {
			if msg := checkBodyEncoding(raw); msg != "" {
				add(i, id, "sqs_body_encoding", msg)
			} else if t != "" && t != sqshook.HookTypeSQS {
				add(i, id, "sqs_body_encoding", "only sqs hooks have a body encoding")
			}
		}
		if prev, ok := byID[id]; ok && id != "" {
			if pt, _ := prev.str("hook_type"); pt == t {
				h.writeBack(o, prev, func(field, rule string) { add(i, id, field, rule) })
			}
		}
		for _, f := range secretFields {
			if s, _ := o.str(f); s == SecretPlaceholder {
				add(i, id, f, fmt.Sprintf("%q stands for a stored secret and is kept only when written back on the hook "+
					"(same id and hook_type) that GET /app showed it on, with that hook's %s unchanged; give the secret itself", SecretPlaceholder, keyFor(f)))
			}
		}
		for _, f := range keyFields {
			if s, _ := o.str(f); s != "" && (s == SecretPlaceholder || strings.HasPrefix(s, "…")) {
				add(i, id, f, "a masked key stands for a stored key and is kept only when written back on the hook (same id and hook_type) that GET /app showed it on; give the key itself")
			}
		}
		given = append(given, incoming{obj: o, delete: del})
	}

	var out []hookObject
	if explicitDeletion {
		out = slices.Clone(old)
		for i, g := range given {
			if g.obj == nil {
				continue
			}
			id, _ := g.obj.str("id")
			pos := slices.IndexFunc(out, func(o hookObject) bool { s, _ := o.str("id"); return id != "" && s == id })
			switch {
			case g.delete && pos < 0:
				add(i, id, "id", "delete: no stored hook has this id")
			case g.delete:
				out = slices.Delete(out, pos, pos+1)
			case pos >= 0:
				out[pos] = g.obj
			default:
				out = append(out, g.obj)
			}
		}
	} else {
		for _, g := range given {
			if g.obj != nil && !g.delete {
				out = append(out, g.obj)
			}
		}
	}
	if len(ps) > 0 {
		return nil, nil, ps
	}

	// Parse and validate the sqs hooks with sqshook's rules.
	idx := sqsIndexes(out)
	var hooks []sqshook.Hook
	fresh := make(map[int]bool) // hooks given without an id
	for _, i := range idx {
		// A new hook gets an id in Stream's form (a UUID), not
		// sqshook's derived one.
		if id, _ := out[i].str("id"); id == "" {
			out[i].setStr("id", newID())
			fresh[i] = true
		}
		raw, _ := json.Marshal(out[i])
		parsed, err := sqshook.ParseHooks(append(append([]byte("["), raw...), ']'))
		id, _ := out[i].str("id")
		var ve *sqshook.ValidationError
		switch {
		case errors.As(err, &ve):
			for _, p := range ve.Problems {
				add(i, id, strings.TrimPrefix(strings.TrimPrefix(p.Field, "hooks[0]"), "."), p.Rule)
			}
		case err != nil:
			add(i, id, "", err.Error())
		default:
			hooks = append(hooks, parsed[0])
		}
	}
	if len(ps) > 0 {
		return nil, nil, ps
	}
	// A new hook with the settings of another (secret and enabled aside)
	// would deliver every event twice.
	settingsOf := make(map[string]int, len(hooks))
	for j, hk := range hooks {
		key := sqshook.GenerateHookID(hk)
		if k, dup := settingsOf[key]; dup && (fresh[idx[j]] || fresh[idx[k]]) {
			newer, other := idx[j], idx[k]
			if !fresh[newer] {
				newer, other = other, newer
			}
			add(newer, "", "", fmt.Sprintf("a new hook with the settings of event_hooks[%d] (queue, region, auth, key, event types): "+
				"every event would be delivered twice", other))
			continue
		}
		settingsOf[key] = j
	}
	if len(ps) > 0 {
		return nil, nil, ps
	}
	valid, err := sqshook.ValidateHooks(hooks, h.opts.Validation(tenant))
	if err != nil {
		var ve *sqshook.ValidationError
		if errors.As(err, &ve) {
			return nil, nil, hookProblems(ve, idx, out)
		}
		return nil, nil, []problem{{field: "event_hooks", rule: err.Error(), index: -1}}
	}
	for j, i := range idx {
		out[i].setStr("id", valid[j].ID)
	}

	// Ids of the other kinds, and uniqueness across kinds.
	seen := make(map[string]int, len(out))
	for i, o := range out {
		id, _ := o.str("id")
		if id == "" {
			id = newID()
			o.setStr("id", id)
		}
		if j, dup := seen[id]; dup {
			add(i, id, "id", fmt.Sprintf("duplicate of event_hooks[%d].id %q", j, id))
		}
		seen[id] = i
	}
	if len(ps) > 0 {
		return nil, nil, ps
	}
	return out, valid, nil
}

// writeBack puts the stored credentials of prev into o where o holds what
// GET /app showed for them.
func (h *Handler) writeBack(o, prev hookObject, bad func(field, rule string)) {
	for _, f := range keyFields {
		s, _ := o.str(f)
		ps, _ := prev.str(f)
		if ps != "" && s == maskKey(ps) {
			o[f] = prev[f]
		}
	}
	for _, f := range secretFields {
		s, _ := o.str(f)
		ps, _ := prev.str(f)
		if ps == "" || s != SecretPlaceholder {
			continue
		}
		k, _ := o.str(keyFor(f))
		pk, _ := prev.str(keyFor(f))
		if k != pk {
			continue // reported as a placeholder that stands for nothing
		}
		o[f] = prev[f]
	}
}

// newID returns a random id for a hook that has none, in the form Stream
// gives: a UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// scrubbed returns err's text without any of secrets (for logs); nil for nil.
func scrubbed(err error, secrets []string) any {
	if err == nil {
		return nil
	}
	s := err.Error()
	for _, sec := range secrets {
		for _, form := range secretForms(sec) {
			s = strings.ReplaceAll(s, form, SecretPlaceholder)
		}
	}
	return s
}
