package sqstest

// This file adds a minimal AWS STS endpoint to the Server, on the same URL as
// SQS, so that code taking credentials from credentials/stscreds (AssumeRole,
// with an external id) can be tested against the fake.
//
// The SDK's STS client speaks the query protocol: a form-encoded POST
// (Content-Type application/x-www-form-urlencoded) with Action and
// Version=2011-06-15, answered in XML. Server.route sends such requests here;
// everything else, the SQS JSON protocol included, goes on to serveHTTP.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// STS limits and defaults the server applies to AssumeRole.
const (
	// DefaultRoleDuration is the lifetime of the credentials AssumeRole
	// issues when neither the call (DurationSeconds) nor the Role says.
	DefaultRoleDuration = time.Hour
	// MinRoleDuration and MaxRoleDuration bound DurationSeconds, as in STS.
	MinRoleDuration = 15 * time.Minute
	MaxRoleDuration = 12 * time.Hour
	// chainedRoleDuration is the longest session STS grants when a role
	// session assumes a role (role chaining).
	chainedRoleDuration = time.Hour
)

// stsVersion and stsNamespace are the STS API version and its XML namespace.
const (
	stsVersion   = "2011-06-15"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// stsActions are the STS operations the server implements.
var stsActions = map[string]bool{"AssumeRole": true, "GetCallerIdentity": true}

// Role is an IAM role that callers may assume with the STS AssumeRole
// operation of the server. See Server.AddRole.
type Role struct {
	// ARN is the role's ARN, such as arn:aws:iam::123456789012:role/sender
	// (a path, role/path/name, is allowed). Required.
	ARN string
	// TrustedPrincipals are the principals the role's trust policy allows
	// to assume it. An entry is one of:
	//   - a principal ARN, matched exactly (arn:aws:iam::111122223333:user/alice);
	//   - a role ARN, which also trusts every session of that role
	//     (arn:aws:sts::111122223333:assumed-role/name/…), for role chaining;
	//   - an account id (111122223333) or an account root ARN
	//     (arn:aws:iam::111122223333:root), trusting every principal of
	//     that account;
	//   - "*", trusting everyone.
	// An empty list trusts no one.
	TrustedPrincipals []string
	// ExternalID is the value sts:ExternalId must have ("" means the trust
	// policy has no such condition, and any or no external id is accepted).
	// A call with another external id, or none, is denied with AccessDenied.
	ExternalID string
	// Duration is the lifetime of the credentials issued when the call does
	// not ask for one with DurationSeconds; 0 means DefaultRoleDuration (one
	// hour). Note that stscreds.AssumeRoleProvider always asks, for 15
	// minutes unless AssumeRoleOptions.Duration says otherwise.
	Duration time.Duration
	// MaxSessionDuration is the longest DurationSeconds the role grants
	// (IAM's MaxSessionDuration); 0 means one hour, as in IAM. A call asking
	// for more fails with ValidationError.
	MaxSessionDuration time.Duration
}

// AssumeRoleCall records an AssumeRole call the server answered (or
// dropped). See Server.AssumeRoleCalls.
type AssumeRoleCall struct {
	RoleARN     string        // RoleArn, as sent
	SessionName string        // RoleSessionName, as sent
	ExternalID  string        // ExternalId, as sent; "" if absent
	Duration    time.Duration // DurationSeconds, as sent; 0 if absent
	CallerKey   string        // the access key id that signed the call; "" if unsigned
	Caller      string        // the caller's principal ARN; "" if CallerKey is unknown
	Time        time.Time     // when the call came, by the server's clock
	// Err is the error code answered ("AccessDenied", "ValidationError",
	// an injected "Throttling", …), "DropBeforeProcessing" when a fault
	// dropped the connection before processing, or "" when credentials were
	// issued (also when a DropAfterProcessing fault then dropped the answer).
	Err string
	// AccessKeyID is the access key id of the credentials issued, or "".
	AccessKeyID string
	// Expiration is when the issued credentials expire; zero on failure.
	Expiration time.Time
}

// stsState is the STS side of a Server.
type stsState struct {
	mu     sync.Mutex
	roles  map[string]Role         // by ARN
	idents map[string]*stsIdentity // by access key id
	calls  []AssumeRoleCall        // AssumeRole calls, in order
	seq    uint64                  // issued access keys
	sends  sync.Map                // access key id -> *atomic.Int64, SQS sends
}

// stsIdentity is the principal behind an access key.
type stsIdentity struct {
	arn, account, userID string
	token                string    // session token; "" for long-term keys
	expires              time.Time // zero for long-term keys
	chained              bool      // a role session (assumed-role ARN)
}

// reset forgets the AssumeRole records and the send counts; roles,
// identities and issued credentials stay.
func (st *stsState) reset() {
	st.mu.Lock()
	st.calls = nil
	st.mu.Unlock()
	st.sends.Clear()
}

// AddRole defines (or replaces, by ARN) a role that callers may assume with
// STS AssumeRole. It panics if r.ARN is not a role ARN
// (arn:<partition>:iam::<account>:role/<name>).
func (s *Server) AddRole(r Role) {
	a, ok := parseARN(r.ARN)
	if !ok || a.service != "iam" || !strings.HasPrefix(a.resource, "role/") || roleName(a.resource) == "" {
		panic("sqstest: AddRole: not a role ARN: " + r.ARN)
	}
	r.TrustedPrincipals = append([]string(nil), r.TrustedPrincipals...)
	st := &s.sts
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.roles == nil {
		st.roles = map[string]Role{}
	}
	st.roles[r.ARN] = r
}

// AddIdentity makes accessKeyID the access key of the principal principalARN
// (such as arn:aws:iam::111122223333:user/alice): calls signed with that key
// id (SigV4, Credential=<accessKeyID>/…) are made by that principal.
// GetCallerIdentity then answers principalARN, the account taken from it and
// a UserId derived from it (stable across runs). Signatures and secret keys
// are not checked. It panics if principalARN is not an ARN.
func (s *Server) AddIdentity(accessKeyID, principalARN string) {
	a, ok := parseARN(principalARN)
	if accessKeyID == "" || !ok {
		panic(fmt.Sprintf("sqstest: AddIdentity(%q, %q): need an access key id and an ARN", accessKeyID, principalARN))
	}
	id := &stsIdentity{arn: principalARN, account: a.account, userID: userIDFor(a)}
	id.chained = a.service == "sts" && strings.HasPrefix(a.resource, "assumed-role/")
	s.sts.mu.Lock()
	defer s.sts.mu.Unlock()
	s.sts.addIdentityLocked(accessKeyID, id)
}

func (st *stsState) addIdentityLocked(key string, id *stsIdentity) {
	if st.idents == nil {
		st.idents = map[string]*stsIdentity{}
	}
	st.idents[key] = id
}

// Identity returns the principal ARN behind an access key id: one given to
// AddIdentity, or one AssumeRole issued (then an assumed-role ARN, such as
// arn:aws:sts::123456789012:assumed-role/sender/session, also after the
// credentials expired). Together with AccessKeys it tells which principal
// sent messages.
func (s *Server) Identity(accessKeyID string) (principalARN string, ok bool) {
	if id := s.sts.identity(accessKeyID); id != nil {
		return id.arn, true
	}
	return "", false
}

func (st *stsState) identity(key string) *stsIdentity {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.idents[key]
}

// AssumeRoleCalls returns a copy of the record of AssumeRole calls, in the
// order they came, failed ones included. Reset clears it.
func (s *Server) AssumeRoleCalls() []AssumeRoleCall {
	s.sts.mu.Lock()
	defer s.sts.mu.Unlock()
	return append([]AssumeRoleCall(nil), s.sts.calls...)
}

// AccessKeys counts the SQS SendMessage and SendMessageBatch requests by the
// access key id that signed them (taken from the SigV4 Authorization
// header; "" counts unsigned requests), whether or not they succeeded. See
// Identity for the principal behind a key. Reset clears the counts.
func (s *Server) AccessKeys() map[string]int {
	out := map[string]int{}
	s.sts.sends.Range(func(k, v any) bool {
		out[k.(string)] = int(v.(*atomic.Int64).Load())
		return true
	})
	return out
}

// HTTPClient returns the HTTP client of the server's own Client, whose
// connections Close closes; give it to other SDK clients pointed at the
// server, such as an STS client for stscreds.
func (s *Server) HTTPClient() *http.Client { return s.http.Client() }

// route is the server's HTTP handler: form-encoded POSTs that are STS calls
// go to serveSTS, everything else to serveHTTP (SQS). On the way it counts
// SQS sends by access key id.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && isFormEncoded(r.Header.Get("Content-Type")) {
		s.serveForm(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	key := accessKeyID(r)
	switch target {
	case "AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch":
		s.sts.countSend(key)
	}
	// SQS calls signed with credentials AssumeRole issued fail once those
	// expire (by the server's clock), as on AWS; other keys are not checked.
	if strings.HasPrefix(target, "AmazonSQS.") && key != "" {
		if id := s.sts.identity(key); id != nil && !id.expires.IsZero() && !s.now().Before(id.expires) {
			s.writeError(w, newError("ExpiredToken", "The security token included in the request is expired"))
			return
		}
	}
	s.serveHTTP(w, r)
}

func (st *stsState) countSend(key string) {
	n, ok := st.sends.Load(key)
	if !ok {
		n, _ = st.sends.LoadOrStore(key, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
}

// isFormEncoded reports whether a Content-Type is
// application/x-www-form-urlencoded, with or without parameters.
func isFormEncoded(ct string) bool {
	const form = "application/x-www-form-urlencoded"
	return len(ct) >= len(form) && strings.EqualFold(ct[:len(form)], form) &&
		(len(ct) == len(form) || ct[len(form)] == ';' || ct[len(form)] == ' ')
}

// accessKeyID returns the access key id of a SigV4 Authorization header
// (AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, …),
// or "".
func accessKeyID(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

// serveForm reads a form-encoded POST and serves it as STS if it is an STS
// call (its Action is one the server implements, or its Version is STS's),
// or else passes it on to serveHTTP unchanged.
func (s *Server) serveForm(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		s.writeSTSError(w, newSTSError("ServiceUnavailable", "The server is closing."))
		return
	}
	defer s.handlers.Done()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeSTSError(w, newSTSError("RequestEntityTooLarge", ""))
		}
		return
	}
	form, err := url.ParseQuery(string(body))
	action := form.Get("Action")
	if err != nil || !stsActions[action] && form.Get("Version") != stsVersion {
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.serveHTTP(w, r)
		return
	}
	s.serveSTS(w, r, action, form)
}

// serveSTS answers an STS call. STS calls are not subject to WithLatency,
// Outage or SetOutage, nor to fault rules whose Op is "": only rules that
// name the STS operation (Fault.Op "AssumeRole" or "GetCallerIdentity")
// apply, with their Hang, Release, Latency, Code, Status, Message, Drop,
// Probability and Times (FailEntries and Queue do not apply).
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, action string, form url.Values) {
	s.stats.call(action)
	key := accessKeyID(r)
	token := r.Header.Get("X-Amz-Security-Token")

	var rec *AssumeRoleCall
	if action == "AssumeRole" {
		rec = &AssumeRoleCall{
			RoleARN:     form.Get("RoleArn"),
			SessionName: form.Get("RoleSessionName"),
			ExternalID:  form.Get("ExternalId"),
			CallerKey:   key,
			Time:        s.now(),
		}
		if n, err := strconv.Atoi(form.Get("DurationSeconds")); err == nil {
			rec.Duration = time.Duration(n) * time.Second
		}
		if id := s.sts.identity(key); id != nil {
			rec.Caller = id.arn
		}
	}
	// finish records an AssumeRole call with its outcome. It is called
	// before answering or dropping, so that the record is there when the
	// client sees the outcome.
	finish := func(code string) {
		if rec != nil {
			rec.Err = code
			s.sts.record(rec)
		}
	}

	var f *Fault
	if stsActions[action] { // others are answered InvalidAction
		f = s.pickFault(action, "")
	}
	if f != nil {
		s.stats.faults.Add(1)
		if !s.hold(r.Context(), f) {
			finish("DropBeforeProcessing")
			dropConnection(w)
			return
		}
		if f.Latency > 0 {
			s.stats.inject("Latency")
			if !s.wait(r.Context(), f.Latency) {
				finish("DropBeforeProcessing")
				dropConnection(w)
				return
			}
		}
		switch {
		case f.Drop == DropBeforeProcessing:
			s.stats.inject("DropBeforeProcessing")
			finish("DropBeforeProcessing")
			dropConnection(w)
			return
		case f.Drop == DropAfterProcessing:
			s.stats.inject("DropAfterProcessing")
		case f.Code != "" || f.Status != 0:
			code := f.Code
			if code == "" {
				code = codeForStatus(f.Status)
			}
			e := newSTSError(code, f.Message)
			if f.Status != 0 {
				e.status = f.Status
			}
			s.stats.inject(e.code)
			finish(e.code)
			s.writeSTSError(w, e)
			return
		}
	}

	var out any
	var e *stsError
	switch action {
	case "AssumeRole":
		out, e = s.stsAssumeRole(key, token, form, rec)
	case "GetCallerIdentity":
		out, e = s.stsGetCallerIdentity(key, token)
	default:
		e = newSTSError("InvalidAction", "Could not find operation "+action+" for version "+stsVersion)
	}
	if e != nil {
		finish(e.code)
	} else {
		finish("")
	}
	if f != nil && f.Drop == DropAfterProcessing {
		dropConnection(w)
		return
	}
	if e != nil {
		s.writeSTSError(w, e)
		return
	}
	s.writeXML(w, http.StatusOK, out)
}

func (st *stsState) record(c *AssumeRoleCall) {
	st.mu.Lock()
	st.calls = append(st.calls, *c)
	st.mu.Unlock()
}

// authenticate finds the principal who signed a call.
func (s *Server) authenticate(key, token string) (*stsIdentity, *stsError) {
	if key == "" {
		return nil, newSTSError("MissingAuthenticationToken", "")
	}
	id := s.sts.identity(key)
	if id == nil || id.token != "" && token != id.token {
		return nil, newSTSError("InvalidClientTokenId", "")
	}
	if !id.expires.IsZero() && !s.now().Before(id.expires) {
		return nil, newSTSError("ExpiredToken", "")
	}
	return id, nil
}

var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

// stsAssumeRole implements AssumeRole; it fills in the issued credentials in
// rec.
func (s *Server) stsAssumeRole(key, token string, form url.Values, rec *AssumeRoleCall) (any, *stsError) {
	caller, e := s.authenticate(key, token)
	if e != nil {
		return nil, e
	}

	// Validate the input as STS does, reporting every problem at once.
	var problems []string
	check := func(field, name string, minLen, maxLen int, re *regexp.Regexp, required bool) {
		v, present := form[field]
		if !present {
			if required {
				problems = append(problems, "Value null at '"+name+"' failed to satisfy constraint: Member must not be null")
			}
			return
		}
		val := v[0]
		switch {
		case len(val) < minLen:
			problems = append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", val, name, minLen))
		case len(val) > maxLen:
			problems = append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", val, name, maxLen))
		}
		if re != nil && !re.MatchString(val) {
			pattern := strings.TrimSuffix(strings.TrimPrefix(re.String(), "^"), "$")
			problems = append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", val, name, pattern))
		}
	}
	check("RoleArn", "roleArn", 20, 2048, nil, true)
	check("RoleSessionName", "roleSessionName", 2, 64, sessionNameRE, true)
	check("ExternalId", "externalId", 2, 1224, externalIDRE, false)
	var asked time.Duration
	if v, present := form["DurationSeconds"]; present {
		n, err := strconv.Atoi(v[0])
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be an integer", v[0]))
		case time.Duration(n)*time.Second < MinRoleDuration:
			problems = append(problems, fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", n, int(MinRoleDuration/time.Second)))
		case time.Duration(n)*time.Second > MaxRoleDuration:
			problems = append(problems, fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", n, int(MaxRoleDuration/time.Second)))
		default:
			asked = time.Duration(n) * time.Second
		}
	}
	if len(problems) > 0 {
		msg := "1 validation error detected: "
		if len(problems) > 1 {
			msg = strconv.Itoa(len(problems)) + " validation errors detected: "
		}
		return nil, newSTSError("ValidationError", msg+strings.Join(problems, "; "))
	}

	roleARN, session := form.Get("RoleArn"), form.Get("RoleSessionName")
	s.sts.mu.Lock()
	role, found := s.sts.roles[roleARN]
	s.sts.mu.Unlock()
	_, hasExternalID := form["ExternalId"]
	if !found || !trusts(role, caller) || role.ExternalID != "" && (!hasExternalID || form.Get("ExternalId") != role.ExternalID) {
		return nil, newSTSError("AccessDenied", "User: "+caller.arn+" is not authorized to perform: sts:AssumeRole on resource: "+roleARN)
	}

	maxDur := role.MaxSessionDuration
	if maxDur <= 0 {
		maxDur = time.Hour
	}
	life := asked
	if life == 0 {
		life = role.Duration
		if life <= 0 {
			life = DefaultRoleDuration
		}
	}
	switch {
	case caller.chained && asked > chainedRoleDuration:
		return nil, newSTSError("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	case asked > maxDur:
		return nil, newSTSError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}

	ra, _ := parseARN(roleARN)
	assumedARN := "arn:" + ra.partition + ":sts::" + ra.account + ":assumed-role/" + roleName(ra.resource) + "/" + session
	roleID := "AROA" + stableID(roleARN) + ":" + session
	expires := s.now().Add(life).UTC().Truncate(time.Second)
	secret := randomText(30) // 40 characters, as AWS's
	sessionToken := randomToken()

	s.sts.mu.Lock()
	s.sts.seq++
	newKey := fmt.Sprintf("ASIASTS%013d", s.sts.seq)
	s.sts.addIdentityLocked(newKey, &stsIdentity{
		arn: assumedARN, account: ra.account, userID: roleID,
		token: sessionToken, expires: expires, chained: true,
	})
	s.sts.mu.Unlock()
	rec.AccessKeyID, rec.Expiration = newKey, expires

	var out assumeRoleResponse
	out.Result.User.Arn = assumedARN
	out.Result.User.AssumedRoleId = roleID
	out.Result.Credentials = xmlCredentials{
		AccessKeyId:     newKey,
		SecretAccessKey: secret,
		SessionToken:    sessionToken,
		Expiration:      expires.Format("2006-01-02T15:04:05Z"),
	}
	out.Metadata.RequestId = s.newRequestID()
	return &out, nil
}

// stsGetCallerIdentity implements GetCallerIdentity.
func (s *Server) stsGetCallerIdentity(key, token string) (any, *stsError) {
	id, e := s.authenticate(key, token)
	if e != nil {
		return nil, e
	}
	var out getCallerIdentityResponse
	out.Result.Account = id.account
	out.Result.Arn = id.arn
	out.Result.UserId = id.userID
	out.Metadata.RequestId = s.newRequestID()
	return &out, nil
}

// trusts reports whether role's trust policy lets the principal assume it.
func trusts(role Role, caller *stsIdentity) bool {
	ca, _ := parseARN(caller.arn)
	for _, p := range role.TrustedPrincipals {
		switch {
		case p == "*" || p == caller.arn:
			return true
		case isAccountID(p):
			if p == caller.account {
				return true
			}
			continue
		}
		pa, ok := parseARN(p)
		if !ok || pa.account != caller.account {
			continue
		}
		switch {
		case pa.service == "iam" && pa.resource == "root":
			return true
		case pa.service == "iam" && strings.HasPrefix(pa.resource, "role/") && caller.chained:
			// A role trusts the sessions of a role it names.
			parts := strings.Split(ca.resource, "/") // assumed-role/name/session
			if len(parts) == 3 && parts[1] == roleName(pa.resource) {
				return true
			}
		}
	}
	return false
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// arn is a parsed ARN: arn:partition:service:region:account:resource.
type arn struct {
	partition, service, region, account, resource string
}

func parseARN(s string) (arn, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return arn{}, false
	}
	return arn{parts[1], parts[2], parts[3], parts[4], parts[5]}, true
}

// roleName is the name of a role from its ARN's resource, role/[path/]name.
func roleName(resource string) string {
	return resource[strings.LastIndexByte(resource, '/')+1:]
}

// userIDFor returns the UserId GetCallerIdentity answers for a principal
// given to AddIdentity, shaped like AWS's unique ids.
func userIDFor(a arn) string {
	full := "arn:" + a.partition + ":" + a.service + ":" + a.region + ":" + a.account + ":" + a.resource
	switch {
	case a.service == "iam" && a.resource == "root":
		return a.account
	case a.service == "iam" && strings.HasPrefix(a.resource, "role/"):
		return "AROA" + stableID(full)
	case a.service == "sts" && strings.HasPrefix(a.resource, "assumed-role/"):
		parts := strings.Split(a.resource, "/")
		return "AROA" + stableID("arn:"+a.partition+":iam::"+a.account+":role/"+parts[1]) + ":" + parts[len(parts)-1]
	}
	return "AIDA" + stableID(full)
}

// stableID derives 17 characters of an AWS-like unique id from s.
func stableID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:17]
}

// randomText returns n random bytes as base64 text.
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// randomToken returns a session token shaped like STS's: long base64 text.
func randomToken() string { return "IQoJb3JpZ2luX2VjE" + randomText(96) }

func (s *Server) newRequestID() string { return uuidLike(s.reqSeq.Add(1)) }

// XML answers, shaped like STS's.

type responseMetadata struct {
	RequestId string
}

type xmlCredentials struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result  struct {
		User struct {
			AssumedRoleId string
			Arn           string
		} `xml:"AssumedRoleUser"`
		Credentials xmlCredentials
	} `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Result  struct {
		Arn     string
		UserId  string
		Account string
	} `xml:"GetCallerIdentityResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type errorResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestId string
}

// stsError is an STS error answer.
type stsError struct {
	code   string
	status int
	msg    string
}

// stsErrorSpecs are the HTTP status and default message of the STS error
// codes; other codes take those of the SQS table (errorSpecs), or 400.
var stsErrorSpecs = map[string]struct {
	status int
	msg    string
}{
	"AccessDenied":               {403, "Access denied"},
	"ExpiredToken":               {400, "The security token included in the request is expired"},
	"ExpiredTokenException":      {400, "The security token included in the request is expired"},
	"IDPCommunicationError":      {400, "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached."},
	"InternalFailure":            {500, "An internal error occurred."},
	"InvalidAction":              {400, "The action or operation requested is invalid."},
	"InvalidClientTokenId":       {403, "The security token included in the request is invalid."},
	"MalformedPolicyDocument":    {400, "The policy document is malformed."},
	"MissingAuthenticationToken": {403, "Request is missing Authentication Token"},
	"PackedPolicyTooLarge":       {400, "The packed policy consumes too much of the allowed space."},
	"RegionDisabledException":    {403, "STS is not activated in this region for account:" + AccountID + ". Your account administrator can activate STS in this region using the IAM Console."},
	"ServiceUnavailable":         {503, "Service is unavailable. Try again later."},
	"Throttling":                 {400, "Rate exceeded"},
	"ValidationError":            {400, "The request is invalid."},
}

// newSTSError makes the error answer for code; an empty msg takes the
// code's default message.
func newSTSError(code, msg string) *stsError {
	e := &stsError{code: code, msg: msg}
	if spec, ok := stsErrorSpecs[code]; ok {
		e.status = spec.status
		if msg == "" {
			e.msg = spec.msg
		}
		return e
	}
	e.status = errorStatus(code)
	if spec, ok := errorIndex[code]; ok && msg == "" {
		e.msg = spec.msg
	}
	return e
}

// writeSTSError sends an error as STS does: an ErrorResponse document, with
// Type Receiver for statuses from 500 up and Sender below.
func (s *Server) writeSTSError(w http.ResponseWriter, e *stsError) {
	var out errorResponse
	out.Error.Type = "Sender"
	if e.status >= 500 {
		out.Error.Type = "Receiver"
	}
	out.Error.Code = e.code
	out.Error.Message = e.msg
	out.RequestId = s.newRequestID()
	s.writeXML(w, e.status, &out)
}

// writeXML sends an XML document with the request id of its metadata.
func (s *Server) writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		body, status = []byte("<ErrorResponse/>"), http.StatusInternalServerError
	}
	var id string
	switch v := v.(type) {
	case *assumeRoleResponse:
		id = v.Metadata.RequestId
	case *getCallerIdentityResponse:
		id = v.Metadata.RequestId
	case *errorResponse:
		id = v.RequestId
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Requestid", id)
	w.WriteHeader(status)
	w.Write(body)
}
