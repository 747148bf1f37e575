// publicerr.go owns the texts of errors that leave the server: a hook's
// last error and health cause (HookStats, the health handler) and a
// check's Error (CheckResult, check_sqs). An error is described by a
// category chosen from its type or its AWS error code (PublicError); what
// AWS or the network said goes to the server's log only. RedactPublic is
// the last line of defence for text that has no category.

package sqshook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// errClass is the category of an error, as PublicError tells it.
type errClass uint8

const (
	classOther errClass = iota // no category: the text, redacted
	classCanceled
	classTimeout
	classServerCredentials // the server's own credential chain failed
	classEndpoint          // no endpoint could be resolved
	classNameNotFound
	classNameLookup
	classRefused
	classReset
	classUnreachable
	classClosed
	classTLS
	classNetwork
	classHTTPStatus
	// classes of AWS error codes
	classBadCredentials
	classExpiredCredentials
	classAccessDenied
	classNoQueue
	classThrottled
	classInternal
	classUnavailable
	classKMS
	classTooLong
	classAPIOther // an AWS error code without a category: its message, redacted
)

// The texts of the categories. Those of network failures begin with
// "network: ".
var classText = map[errClass]string{
	classCanceled:           "canceled",
	classTimeout:            "timed out",
	classServerCredentials:  "the server's own AWS credentials are not available",
	classEndpoint:           "no SQS endpoint could be resolved for the hook's region",
	classNameNotFound:       "network: name not resolved",
	classNameLookup:         "network: name resolution failed",
	classRefused:            "network: connection refused",
	classReset:              "network: connection reset",
	classUnreachable:        "network: network unreachable",
	classClosed:             "network: connection closed before the answer",
	classTLS:                "network: TLS handshake failed",
	classNetwork:            "network: the connection failed",
	classBadCredentials:     "invalid credentials (the key or secret is wrong)",
	classExpiredCredentials: "expired credentials",
	classAccessDenied:       "access denied by the queue policy or the sender's IAM policy",
	classNoQueue:            "queue does not exist",
	classThrottled:          "throttled",
	classInternal:           "SQS internal error",
	classUnavailable:        "SQS unavailable",
	classKMS:                "the queue's KMS key refused the call",
	classTooLong:            "batch request too long",
}

// AWS error codes by category, beyond those of check.go (checkAuthCodes,
// checkExpiredCodes, checkNoQueueCodes, isAccessDenied, isKMSCode) and
// sender.go (tooLongCodes).
var (
	throttleCodes = map[string]bool{
		"RequestThrottled": true, "ThrottlingException": true, "Throttling": true, "TooManyRequestsException": true,
		"SlowDown": true, "KMS.ThrottlingException": true, "KmsThrottled": true,
	}
	internalCodes = map[string]bool{
		"InternalError": true, "InternalFailure": true, "AWS.SimpleQueueService.InternalError": true,
	}
	unavailableCodes = map[string]bool{
		"ServiceUnavailable": true, "AWS.SimpleQueueService.ServiceUnavailable": true,
	}
	timeoutCodes = map[string]bool{
		"RequestTimeout": true, "RequestTimeoutException": true,
	}
)

// described is an error as it may be shown outside the server.
type described struct {
	class errClass
	code  string // the AWS error code; "" without one
	text  string // the category's text, or for classOther and classAPIOther the redacted message
}

// PublicError describes err for people outside the server (a customer, a
// status page, the health handler): code is its AWS error code, "" when it
// has none, and text a category chosen from the error's type or code
// (never AWS's message for a code it knows, never what the network
// reported). The categories are:
//
//   - by AWS error code: "invalid credentials (the key or secret is
//     wrong)", "expired credentials", "access denied by the queue policy
//     or the sender's IAM policy", "queue does not exist", "throttled",
//     "SQS internal error", "SQS unavailable", "timed out", "the queue's
//     KMS key refused the call", "batch request too long";
//   - the server's own credential chain (the default chain of "resource"
//     hooks and of STS for "role" hooks: environment, shared files, IMDS,
//     container credentials, SSO, web identity) failed: "the server's own
//     AWS credentials are not available";
//   - network failures: "network: name not resolved", "network: name
//     resolution failed", "network: connection refused", "network:
//     connection reset", "network: network unreachable", "network:
//     connection closed before the answer", "network: TLS handshake
//     failed", "network: the connection failed";
//   - "timed out", "canceled", "no SQS endpoint could be resolved for the
//     hook's region", and "HTTP <status>" for an answer without an error
//     code.
//
// An AWS error code without a category keeps its message, and an error of
// no kind above its text, both passed through RedactPublic. text is ""
// only for a nil err. The detail belongs in the server's log, where
// sqshook writes it (WithLogger, CheckOptions.Logger).
func PublicError(err error) (code, text string) {
	d := describe(err)
	return d.code, d.text
}

// describe sorts err into its category.
func describe(err error) described {
	if err == nil {
		return described{}
	}
	if walkErr(err, isServerCredentialErr) {
		return classed(classServerCredentials, "")
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" {
		return describeCode(apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	if errors.Is(err, context.Canceled) {
		return classed(classCanceled, "")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return classed(classNameNotFound, "")
		case dnsErr.IsTimeout:
			return classed(classTimeout, "")
		}
		return classed(classNameLookup, "")
	}
	if isTimeout(err) {
		return classed(classTimeout, "")
	}
	// No type tells these apart: the SDK's own wording ("get identity: ",
	// "failed to resolve service endpoint"), as configErrorCode reads it.
	switch code := configErrorCode(err); {
	case code == CodeCredentials:
		return classed(classServerCredentials, "")
	case code == CodeEndpoint:
		return classed(classEndpoint, "")
	}
	var notFound *aws.EndpointNotFoundError
	if errors.As(err, &notFound) {
		return classed(classEndpoint, "")
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return classed(classRefused, "")
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return classed(classReset, "")
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL),
		errors.Is(err, syscall.ENETDOWN), errors.Is(err, syscall.EHOSTDOWN):
		return classed(classUnreachable, "")
	case errors.Is(err, syscall.ETIMEDOUT):
		return classed(classTimeout, "")
	case isTLSErr(err):
		return classed(classTLS, "")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return classed(classClosed, "")
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		status := re.HTTPStatusCode()
		return described{class: classHTTPStatus, text: strings.TrimSpace("HTTP " + strconv.Itoa(status) + " " + http.StatusText(status))}
	}
	var (
		opErr   *net.OpError
		urlErr  *url.Error
		sendErr *smithyhttp.RequestSendError
		sysErr  *os.SyscallError
	)
	if errors.As(err, &opErr) || errors.As(err, &urlErr) || errors.As(err, &sendErr) || errors.As(err, &sysErr) {
		return classed(classNetwork, "")
	}
	return described{class: classOther, text: RedactPublic(strings.TrimPrefix(err.Error(), "sqshook: "))}
}

// describeCode sorts an AWS error code (with its message, kept only for a
// code without a category) into its category.
func describeCode(code, msg string) described {
	c := classAPIOther
	switch {
	case checkAuthCodes[code]:
		c = classBadCredentials
	case checkExpiredCodes[code]:
		c = classExpiredCredentials
	case isAccessDenied(code):
		c = classAccessDenied
	case checkNoQueueCodes[code]:
		c = classNoQueue
	case throttleCodes[code]:
		c = classThrottled
	case internalCodes[code]:
		c = classInternal
	case unavailableCodes[code]:
		c = classUnavailable
	case timeoutCodes[code]:
		c = classTimeout
	case isKMSCode(code):
		c = classKMS
	case tooLongCodes[code]:
		c = classTooLong
	}
	if c != classAPIOther {
		return classed(c, code)
	}
	text := RedactPublic(strings.TrimSpace(msg))
	if text == "" {
		text = "refused by AWS"
	}
	return described{class: classAPIOther, code: code, text: text}
}

func classed(c errClass, code string) described {
	return described{class: c, code: code, text: classText[c]}
}

// walkErr reports whether f holds for err or any error it wraps (through
// Unwrap() error and Unwrap() []error).
func walkErr(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walkErr(e, f) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// isServerCredentialErr reports whether e is an error of the server's own
// credential chain: a call to a credential source (IMDS, the container
// credentials endpoint, SSO, STS for web identity or SAML), the shared
// config and credentials files, a credential process, or empty static
// keys.
func isServerCredentialErr(e error) bool {
	switch x := e.(type) {
	case *smithy.OperationError:
		switch x.ServiceID {
		case "ec2imds", "endpoint-credentials", "SSO", "SSO OIDC", "Signin":
			return true
		case "STS":
			return x.OperationName == "AssumeRoleWithWebIdentity" || x.OperationName == "AssumeRoleWithSAML"
		}
	case config.SharedConfigProfileNotExistError, *config.SharedConfigProfileNotExistError,
		config.SharedConfigLoadError, *config.SharedConfigLoadError,
		config.SharedConfigAssumeRoleError, *config.SharedConfigAssumeRoleError,
		config.CredentialRequiresARNError, *config.CredentialRequiresARNError,
		config.AssumeRoleTokenProviderNotSetError, *config.AssumeRoleTokenProviderNotSetError,
		*credentials.StaticCredentialsEmptyError, *processcreds.ProviderError, *ssocreds.InvalidTokenError,
		*fs.PathError:
		// The SDK reads files only for the server's own configuration:
		// shared config and credentials files, web identity tokens.
		return true
	}
	return false
}

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var rt *awshttp.ResponseTimeoutError
	if errors.As(err, &rt) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isTLSErr reports whether err is a failed TLS handshake or certificate
// check.
func isTLSErr(err error) bool {
	var (
		rh       *tls.RecordHeaderError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		roots    x509.SystemRootsError
	)
	return errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &roots)
}

// What RedactPublic replaces, in this order.
var (
	redactURL  = regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)
	redactARN  = regexp.MustCompile(`\barn:[a-z0-9-]*:[^\s"'<>,;()]*`)
	redactIPv4 = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b`)
	// redactHostPort: a host name (or an IPv6 address in brackets, which
	// redactIPv6 leaves as "[address]") with a port.
	redactHostPort = regexp.MustCompile(`\b[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*:\d{1,5}\b`)
	// redactHost: a host name of three labels or more, the last a word;
	// redactLookup: the name of a failed lookup, as Go writes it.
	redactHost    = regexp.MustCompile(`\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.){2,}[a-z]{2,63}\b`)
	redactLookup  = regexp.MustCompile(`\blookup [^\s:\[]+`)
	redactAccount = regexp.MustCompile(`\b\d{12}\b`)
	// redactKeyID: access key ids and the unique ids of IAM users, roles,
	// groups and instance profiles (AIDA…, AROA…, …).
	redactKeyID    = regexp.MustCompile(`\b(?:AKIA|ASIA|AIDA|AROA|AGPA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{12,124}\b`)
	redactInstance = regexp.MustCompile(`\bi-[0-9a-f]{8,17}\b`)
	redactPath     = regexp.MustCompile(`(?:^|[\s"'(=])((?:~|\.{1,2})?/[^\s"'<>:;,()]+/[^\s"'<>:;,()]*|[A-Za-z]:\\[^\s"'<>:;,()]+)`)
	// redactCredChain: the wording of the AWS SDK's credential chain and
	// shared configuration, for an error whose type did not say it.
	redactCredChain = regexp.MustCompile(`(?i)get identity|get credentials|cached credentials|EC2 IMDS|ec2imds|SharedConfig|shared config|credential process|web identity|SSO token|AWS_PROFILE|AWS_ACCESS_KEY_ID|AWS_CONTAINER_CREDENTIALS`)
)

// RedactPublic returns s with what must not leave the server replaced, the
// last line of defence for error text that has no category (see
// PublicError): URLs ("[url]"), ARNs and with them IAM identities
// ("[arn]"), IPv4 and IPv6 addresses and host:port pairs ("[address]"),
// host names of three labels or more ("[host]"), AWS account ids
// ("[account]"), access key ids and IAM unique ids ("[key id]"), EC2
// instance ids ("[instance]") and file paths ("[path]"). A text in the
// words of the AWS SDK's credential chain is replaced whole by "the
// server's own AWS credentials are not available".
//
// Each string of keep that occurs in s whole is left as it is: what a
// result shows on purpose, such as the server's principal that a queue
// policy must name.
func RedactPublic(s string, keep ...string) string {
	if s == "" {
		return s
	}
	if redactCredChain.MatchString(s) {
		return classText[classServerCredentials]
	}
	var kept []string
	for _, k := range keep {
		if k == "" || !strings.Contains(s, k) {
			continue
		}
		s = strings.ReplaceAll(s, k, "\x00"+strconv.Itoa(len(kept))+"\x00")
		kept = append(kept, k)
	}
	s = redactURL.ReplaceAllStringFunc(s, keepTrailing("[url]"))
	s = redactARN.ReplaceAllStringFunc(s, keepTrailing("[arn]"))
	s = redactIPv4.ReplaceAllString(s, "[address]")
	s = redactIPv6(s)
	s = redactHostPort.ReplaceAllStringFunc(s, func(m string) string {
		host := m[:strings.LastIndexByte(m, ':')]
		if !strings.ContainsAny(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return m // a time of day, a ratio: no host
		}
		return "[address]"
	})
	s = redactHost.ReplaceAllString(s, "[host]")
	s = redactLookup.ReplaceAllString(s, "lookup [host]")
	s = redactAccount.ReplaceAllString(s, "[account]")
	s = redactKeyID.ReplaceAllString(s, "[key id]")
	s = redactInstance.ReplaceAllString(s, "[instance]")
	s = redactPath.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.IndexAny(m, "/~.\\")
		if i >= 2 && m[i-1] == ':' { // a drive letter
			i -= 2
		}
		return m[:i] + "[path]"
	})
	for i, k := range kept {
		s = strings.ReplaceAll(s, "\x00"+strconv.Itoa(i)+"\x00", k)
	}
	return s
}

// keepTrailing returns a replacement that keeps the sentence's punctuation
// a match swallowed.
func keepTrailing(repl string) func(string) string {
	return func(m string) string {
		trimmed := strings.TrimRight(m, ".:!?")
		return repl + m[len(trimmed):]
	}
}

// redactIPv6 replaces IPv6 addresses (bare, or in brackets with a port)
// with "[address]": runs of hex digits, colons, dots and brackets holding
// two colons or more that parse as an address.
func redactIPv6(s string) string {
	if strings.Count(s, ":") < 2 {
		return s
	}
	isRun := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.' || c == '[' || c == ']'
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isRun(s[i]) || i > 0 && isWordByte(s[i-1]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isRun(s[j]) {
			j++
		}
		if j < len(s) && isWordByte(s[j]) || !isIPv6(strings.TrimRight(s[i:j], ".:")) {
			i = j
			continue
		}
		end := i + len(strings.TrimRight(s[i:j], ".:"))
		b.WriteString(s[last:i])
		b.WriteString("[address]")
		last, i = end, j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// isIPv6 reports whether s is an IPv6 address, bare or as "[addr]" or
// "[addr]:port".
func isIPv6(s string) bool {
	if strings.Count(s, ":") < 2 {
		return false
	}
	if strings.HasPrefix(s, "[") {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr().Is6()
		}
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

// publicCause is what a failed SendMessageBatch call leaves in the hook's
// last error and health cause (HookStats, the health handler), after the
// error code: the category of err, with what the customer must change for
// a denied call or a refused role, never AWS's message or the network's
// detail (those are logged where the call is settled). kind is the call's
// failure kind.
func publicCause(h Hook, kind failureKind, err error) string {
	if kind == failShutdown {
		return "the dispatcher closed before the call ended"
	}
	err = h.scrubError(err) // before redaction, which could cut a secret in pieces
	d := describe(err)
	text := d.text
	switch {
	case d.class == classServerCredentials:
	case h.SQSAuthType == AuthRole && fromSTS(err):
		switch d.class {
		case classAccessDenied:
			text = "the role's trust policy must allow this server's principal sts:AssumeRole with the customer's ExternalId"
		case classBadCredentials:
			text = "STS does not accept the server's own credentials"
		case classThrottled, classInternal, classUnavailable:
			text = strings.Replace(text, "SQS", "STS", 1)
			if d.class == classThrottled {
				text = "STS " + text
			}
		}
		text = "assuming the hook's role failed: " + text
	case d.class == classBadCredentials && h.SQSAuthType != AuthKeys:
		text = "AWS does not accept the server's own credentials"
	case d.class == classAccessDenied:
		text = accessDeniedHint(h, "sqs:SendMessage")
	}
	return text
}

// publicEntryCause is publicCause for one failed entry of a batch: its
// code and message as SQS reported them.
func publicEntryCause(h Hook, code, msg string) string {
	d := describeCode(code, h.scrub(msg))
	if d.class == classAccessDenied {
		d.text = accessDeniedHint(h, "sqs:SendMessage")
	}
	return d.text
}

// accessDeniedHint says, for a hook's auth type, whose policy must allow
// action.
func accessDeniedHint(h Hook, action string) string {
	switch h.SQSAuthType {
	case AuthResource:
		return fmt.Sprintf("access denied by the queue policy: the policy must allow %s for the server's principal", action)
	case AuthRole:
		return fmt.Sprintf("access denied: the role's permission policy and the queue policy must allow %s", action)
	}
	return fmt.Sprintf("access denied: the IAM policy of the hook's access key and the queue policy must allow %s", action)
}
