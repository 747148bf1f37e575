// publicerr_test.go tests PublicError and RedactPublic over a corpus of
// errors and messages as AWS, the SDK and the network produce them: each
// gets its category, and none shows an account id, an ARN, an IAM
// identity, an address, a host name, a path or the credential chain.

package sqshook_test

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
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sqshook/sqshook"
)

// The AccessDenied message of the report: the caller's identity and the
// queue's ARN, each with its account id.
const deniedMessage = "User: arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:444455556666:customer-queue because no resource-based policy allows the sqs:sendmessage action"

// publicForbidden are the pieces of the corpus that must never be shown.
var publicForbidden = []string{
	"111122223333", "444455556666", "arn:", "assumed-role", "chat-server", "i-0abc", "customer-queue",
	"10.1.2.3", "10.0.0.2", "3128", ":53", "169.254.169.254", "52.94.", "2600:1f18", "amazonaws.com", "proxy.corp", "squid",
	"IMDS", "imds", "get identity", "cached credentials", "chat-prod", "/root", "/var/run", ".aws", "AKIA", "AROA",
}

// assertPublic fails the test if s shows any of publicForbidden, or (for
// categories) words of the network's own messages.
func assertPublic(t *testing.T, what, s string, more ...string) {
	t.Helper()
	for _, f := range append(publicForbidden, more...) {
		if strings.Contains(s, f) {
			t.Errorf("%s shows %q: %s", what, f, s)
		}
	}
}

// sqsCall wraps err as the SDK reports a failed SQS call.
func sqsCall(op string, err error) error {
	return &smithy.OperationError{ServiceID: "SQS", OperationName: op, Err: err}
}

// answered is an answer of AWS with an error code, as the SDK wraps it.
func answered(status int, code, msg string) error {
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient},
		},
		RequestID: "4f6b9c2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
	}
}

// notSent is a request that never got an answer, as the SDK wraps it.
func notSent(err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{}},
		Err:      &smithyhttp.RequestSendError{Err: &url.Error{Op: "Post", URL: "https://sqs.us-east-1.amazonaws.com/", Err: err}},
	}}
}

func tcpAddr(s string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// dialFailed is a dial to addr that failed with the errno.
func dialFailed(addr string, errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(addr), Err: &os.SyscallError{Syscall: "connect", Err: errno}}
}

// credentialChain is a failed retrieval of the server's own credentials,
// as an SQS call reports it.
func credentialChain(err error) error {
	return sqsCall("SendMessageBatch", fmt.Errorf("get identity: %w", fmt.Errorf("get credentials: %w",
		fmt.Errorf("failed to refresh cached credentials, %w", err))))
}

func TestPublicError(t *testing.T) {
	const (
		denied      = "access denied by the queue policy or the sender's IAM policy"
		serverCreds = "the server's own AWS credentials are not available"
	)
	imdsRefused := &smithy.OperationError{ServiceID: "ec2imds", OperationName: "GetMetadata",
		Err: notSent(dialFailed("169.254.169.254:80", syscall.ECONNREFUSED))}
	tests := []struct {
		name     string
		err      error
		code     string
		text     string
		contains bool // text is a part of the answer, not all of it
	}{
		{name: "AccessDenied naming the caller and the queue", err: sqsCall("SendMessageBatch", answered(403, "AccessDenied", deniedMessage)),
			code: "AccessDenied", text: denied},
		{name: "AccessDenied with the legacy code", err: sqsCall("GetQueueAttributes", answered(403, "AWS.SimpleQueueService.AccessDenied", deniedMessage)),
			code: "AWS.SimpleQueueService.AccessDenied", text: denied},
		{name: "no such queue", err: sqsCall("SendMessageBatch", answered(400, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist for this wsdl version: arn:aws:sqs:us-east-1:444455556666:customer-queue")),
			code: "AWS.SimpleQueueService.NonExistentQueue", text: "queue does not exist"},
		{name: "invalid key", err: sqsCall("SendMessageBatch", answered(403, "InvalidClientTokenId", "The security token included in the request is invalid.")),
			code: "InvalidClientTokenId", text: "invalid credentials (the key or secret is wrong)"},
		{name: "wrong secret", err: sqsCall("SendMessageBatch", answered(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. The Canonical String for this request should have been 'POST / host:sqs.us-east-1.amazonaws.com'")),
			code: "SignatureDoesNotMatch", text: "invalid credentials (the key or secret is wrong)"},
		{name: "expired token", err: sqsCall("SendMessageBatch", answered(400, "ExpiredToken", "The security token included in the request is expired")),
			code: "ExpiredToken", text: "expired credentials"},
		{name: "throttled", err: sqsCall("SendMessageBatch", answered(403, "RequestThrottled", "Rate exceeded")),
			code: "RequestThrottled", text: "throttled"},
		{name: "KMS throttled", err: sqsCall("SendMessageBatch", answered(400, "KMS.ThrottlingException", "Rate exceeded for arn:aws:kms:us-east-1:444455556666:key/1234abcd")),
			code: "KMS.ThrottlingException", text: "throttled"},
		{name: "internal error", err: sqsCall("SendMessageBatch", answered(500, "InternalError", "We encountered an internal error. Please try again.")),
			code: "InternalError", text: "SQS internal error"},
		{name: "unavailable", err: sqsCall("SendMessageBatch", answered(503, "ServiceUnavailable", "Service is unavailable. Try again later.")),
			code: "ServiceUnavailable", text: "SQS unavailable"},
		{name: "KMS key refuses", err: sqsCall("SendMessageBatch", answered(400, "KMS.AccessDeniedException", "User: arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab")),
			code: "KMS.AccessDeniedException", text: "the queue's KMS key refused the call"},
		{name: "code without a category keeps its message, redacted", err: sqsCall("SendMessageBatch", answered(400, "InvalidParameterValue", "Value arn:aws:sqs:us-east-1:444455556666:customer-queue for parameter QueueUrl is invalid. Reason: the queue is in account 444455556666.")),
			code: "InvalidParameterValue", text: "Value [arn] for parameter QueueUrl is invalid. Reason: the queue is in account [account]."},
		{name: "code without a category or a message", err: sqsCall("SendMessageBatch", answered(400, "Weird", "")),
			code: "Weird", text: "refused by AWS"},
		{name: "proxy refuses", err: sqsCall("SendMessageBatch", notSent(&net.OpError{Op: "proxyconnect", Net: "tcp", Err: dialFailed("10.1.2.3:3128", syscall.ECONNREFUSED)})),
			text: "network: connection refused"},
		{name: "name not resolved", err: sqsCall("SendMessageBatch", notSent(&net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "no such host", Name: "sqs.us-east-1.amazonaws.com", Server: "10.0.0.2:53", IsNotFound: true}})),
			text: "network: name not resolved"},
		{name: "resolver times out", err: sqsCall("SendMessageBatch", notSent(&net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "i/o timeout", Name: "sqs.us-east-1.amazonaws.com", Server: "10.0.0.2:53", IsTimeout: true}})),
			text: "timed out"},
		{name: "resolver fails", err: sqsCall("SendMessageBatch", notSent(&net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "server misbehaving", Name: "sqs.us-east-1.amazonaws.com", Server: "10.0.0.2:53"}})),
			text: "network: name resolution failed"},
		{name: "read times out", err: sqsCall("SendMessageBatch", notSent(&net.OpError{Op: "read", Net: "tcp", Addr: tcpAddr("52.94.0.1:443"), Err: os.ErrDeadlineExceeded})),
			text: "timed out"},
		{name: "call deadline", err: sqsCall("SendMessageBatch", &smithy.CanceledError{Err: context.DeadlineExceeded}),
			text: "timed out"},
		{name: "canceled", err: sqsCall("SendMessageBatch", &smithy.CanceledError{Err: context.Canceled}),
			text: "canceled"},
		{name: "connection reset", err: sqsCall("SendMessageBatch", notSent(&net.OpError{Op: "read", Net: "tcp", Addr: tcpAddr("10.1.2.3:3128"),
			Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}})),
			text: "network: connection reset"},
		{name: "network unreachable", err: sqsCall("SendMessageBatch", notSent(dialFailed("52.94.0.1:443", syscall.ENETUNREACH))),
			text: "network: network unreachable"},
		{name: "IPv6 unreachable", err: sqsCall("SendMessageBatch", notSent(dialFailed("[2600:1f18:abcd::1]:443", syscall.EHOSTUNREACH))),
			text: "network: network unreachable"},
		{name: "certificate not trusted", err: sqsCall("SendMessageBatch", notSent(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})),
			text: "network: TLS handshake failed"},
		{name: "not TLS", err: sqsCall("SendMessageBatch", notSent(&tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"})),
			text: "network: TLS handshake failed"},
		{name: "connection closed", err: sqsCall("SendMessageBatch", notSent(io.EOF)),
			text: "network: connection closed before the answer"},
		{name: "HTTP status without a code", err: sqsCall("SendMessageBatch", &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 502}}, Err: errors.New("bad gateway from proxy 10.1.2.3:3128")}}),
			text: "HTTP 502 Bad Gateway"},
		{name: "no EC2 IMDS role", err: credentialChain(fmt.Errorf("no EC2 IMDS role found, %w", imdsRefused)),
			text: serverCreds},
		{name: "shared config profile missing", err: credentialChain(config.SharedConfigProfileNotExistError{Profile: "chat-prod", Filename: []string{"/root/.aws/config"}}),
			text: serverCreds},
		{name: "config profile missing at load", err: config.SharedConfigProfileNotExistError{Profile: "chat-prod", Filename: []string{"/root/.aws/config"}},
			text: serverCreds},
		{name: "web identity refused", err: credentialChain(&smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
			Err: answered(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity on arn:aws:iam::111122223333:role/chat-server")}),
			text: serverCreds},
		{name: "web identity token missing", err: credentialChain(fmt.Errorf("failed to retrieve jwt from provide source, unable to read file at /var/run/secrets/eks.amazonaws.com/serviceaccount/token: %w",
			&fs.PathError{Op: "open", Path: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", Err: fs.ErrNotExist})),
			text: serverCreds},
		{name: "get identity without a type", err: credentialChain(errors.New("some provider failed")),
			text: serverCreds},
		{name: "credential chain as text only", err: errors.New("failed to refresh cached credentials, no EC2 IMDS role found"),
			text: serverCreds},
		{name: "credential chain as text, with a type name", err: errors.New("get identity: get credentials: failed to refresh cached credentials, SharedConfigProfileNotExistError: failed to get shared config profile, chat-prod"),
			text: serverCreds},
		{name: "endpoint not resolved", err: sqsCall("SendMessageBatch", errors.New("failed to resolve service endpoint, endpoint rule error, Invalid Configuration: Missing Region")),
			text: "no SQS endpoint could be resolved for the hook's region"},
		{name: "an error of no kind is redacted", err: errors.New("sqshook: something odd at 10.1.2.3:8080 for arn:aws:iam::111122223333:role/chat-server in /var/run/sqshook/state"),
			text: "something odd at [address] for [arn] in [path]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, text := sqshook.PublicError(tt.err)
			if code != tt.code || text != tt.text {
				t.Errorf("PublicError(%q)\n got  %q, %q\n want %q, %q", tt.err, code, text, tt.code, tt.text)
			}
			assertPublic(t, "PublicError's text", text, "proxyconnect", "dial tcp", "lookup ")
		})
	}
	if code, text := sqshook.PublicError(nil); code != "" || text != "" {
		t.Errorf("PublicError(nil) = %q, %q; want nothing", code, text)
	}
}

func TestRedactPublic(t *testing.T) {
	const serverCreds = "the server's own AWS credentials are not available"
	tests := []struct {
		in   string
		keep []string
		want string
	}{
		{in: deniedMessage,
			want: "User: [arn] is not authorized to perform: sqs:sendmessage on resource: [arn] because no resource-based policy allows the sqs:sendmessage action"},
		{in: "proxyconnect tcp: dial tcp 10.1.2.3:3128: connect: connection refused",
			want: "proxyconnect tcp: dial tcp [address]: connect: connection refused"},
		{in: "lookup sqs.us-east-1.amazonaws.com on 10.0.0.2:53: no such host",
			want: "lookup [host] on [address]: no such host"},
		{in: "dial tcp: lookup proxy.corp on 10.0.0.2:53: server misbehaving",
			want: "dial tcp: lookup [host] on [address]: server misbehaving"},
		{in: "dial tcp squid.internal.corp:3128: i/o timeout",
			want: "dial tcp [address]: i/o timeout"},
		{in: "dial tcp [2600:1f18:abcd::1]:443: connect: network is unreachable",
			want: "dial tcp [address]: connect: network is unreachable"},
		{in: "dial tcp [::1]:4566: connect: connection refused",
			want: "dial tcp [address]: connect: connection refused"},
		{in: "no route from fd00:ec2::254 to 2600:1f18::1.",
			want: "no route from [address] to [address]."},
		{in: `Post "https://sqs.us-east-1.amazonaws.com/": EOF`,
			want: `Post "[url]": EOF`},
		{in: "see https://10.1.2.3:8443/queue?x=1.",
			want: "see [url]."},
		{in: "failed to refresh cached credentials, no EC2 IMDS role found", want: serverCreds},
		{in: "get identity: get credentials: failed to refresh cached credentials, SharedConfigProfileNotExistError: failed to get shared config profile, chat-prod", want: serverCreds},
		{in: "operation error ec2imds: GetMetadata, canceled, context deadline exceeded", want: serverCreds},
		{in: "the queue is in account 444455556666, not 111122223333",
			want: "the queue is in account [account], not [account]"},
		{in: "access key AKIAIOSFODNN7EXAMPLE is not valid",
			want: "access key [key id] is not valid"},
		{in: "caller AROAEXAMPLEID12345678:i-0123456789abcdef0 denied",
			want: "caller [key id]:[instance] denied"},
		{in: "open /root/.aws/config: no such file or directory",
			want: "open [path]: no such file or directory"},
		{in: `open C:\Users\chat\.aws\credentials: The system cannot find the path specified.`,
			want: "open [path]: The system cannot find the path specified."},
		{in: "the queue policy must allow arn:aws:iam::111122223333:role/ChatServer; " + deniedMessage,
			keep: []string{"arn:aws:iam::111122223333:role/ChatServer", ""},
			want: "the queue policy must allow arn:aws:iam::111122223333:role/ChatServer; User: [arn] is not authorized to perform: sqs:sendmessage on resource: [arn] because no resource-based policy allows the sqs:sendmessage action"},
		{in: "access denied for sqs:SendMessage on http://127.0.0.1:4566/000000000000/events (AccessDenied)",
			keep: []string{"http://127.0.0.1:4566/000000000000/events"},
			want: "access denied for sqs:SendMessage on http://127.0.0.1:4566/000000000000/events (AccessDenied)"},
		// Nothing to redact: left as it is.
		{in: "Value for parameter MessageGroupId is invalid. Reason: must be 1 to 128 characters.",
			want: "Value for parameter MessageGroupId is invalid. Reason: must be 1 to 128 characters."},
		{in: "access denied for sqs:SendMessage (AccessDenied); StatusCode: 403, RequestID: 4f6b9c2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f, at 12:30:45",
			want: "access denied for sqs:SendMessage (AccessDenied); StatusCode: 403, RequestID: 4f6b9c2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f, at 12:30:45"},
		{in: "", want: ""},
	}
	for _, tt := range tests {
		got := sqshook.RedactPublic(tt.in, tt.keep...)
		if got != tt.want {
			t.Errorf("RedactPublic(%q, %q)\n got  %q\n want %q", tt.in, tt.keep, got, tt.want)
		}
		if len(tt.keep) == 0 {
			assertPublic(t, "RedactPublic", got)
		}
	}
}
