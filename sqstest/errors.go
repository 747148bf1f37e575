package sqstest

import (
	"net/http"
	"strings"
)

// errorSpec describes how SQS sends one error code over the JSON protocol.
type errorSpec struct {
	shape  string // the error shape, sent as "__type": "com.amazonaws.sqs#<shape>"
	query  string // the legacy Query code, sent in X-Amzn-Query-Error
	status int    // the HTTP status
	msg    string // a default message
}

// errorSpecs lists the codes the server sends. The modeled errors (those with
// a type in the SDK's types package) carry the shape name, HTTP status and
// legacy code of the SQS API model; the others are SQS's and AWS's common
// errors.
var errorSpecs = []errorSpec{
	// Modeled errors.
	{"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, "Two or more batch entries in the request have the same Id."},
	{"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400, "The length of all the messages put together is more than the limit."},
	{"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400, "The batch request doesn't contain any entries."},
	{"InvalidAddress", "InvalidAddress", 404, "The specified ID is invalid."},
	{"InvalidAttributeName", "InvalidAttributeName", 400, "The specified attribute doesn't exist."},
	{"InvalidAttributeValue", "InvalidAttributeValue", 400, "A queue attribute value is invalid."},
	{"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400, "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."},
	{"InvalidIdFormat", "InvalidIdFormat", 400, "The specified receipt handle isn't valid for the current version."},
	{"InvalidMessageContents", "InvalidMessageContents", 400, "The message contains characters outside the allowed set."},
	{"InvalidSecurity", "InvalidSecurity", 403, "The request was not made over HTTPS or did not use SigV4 for signing."},
	{"KmsAccessDenied", "KMS.AccessDeniedException", 400, "The caller doesn't have the required KMS access."},
	{"KmsDisabled", "KMS.DisabledException", 400, "The request was denied because the specified key was disabled."},
	{"KmsInvalidKeyUsage", "KMS.InvalidKeyUsageException", 400, "The request was rejected because the key is not valid for this request."},
	{"KmsInvalidState", "KMS.InvalidStateException", 400, "The request was rejected because the state of the specified key is not valid for this request."},
	{"KmsNotFound", "KMS.NotFoundException", 400, "The request was rejected because the specified key could not be found."},
	{"KmsOptInRequired", "KMS.OptInRequired", 403, "The request was rejected because the specified key policy requires opt-in."},
	{"KmsThrottled", "KMS.ThrottlingException", 400, "The request was denied due to request throttling by KMS."},
	{"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400, "The specified message isn't in flight."},
	{"OverLimit", "OverLimit", 403, "The specified action violates a limit."},
	{"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403, "Only one PurgeQueue operation on a queue is allowed every 60 seconds."},
	{"QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400, "You must wait 60 seconds after deleting a queue before you can create another queue with the same name."},
	{"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400, "The specified queue does not exist."},
	{"QueueNameExists", "QueueAlreadyExists", 400, "A queue with this name already exists with different attributes."},
	{"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404, "The specified receipt handle isn't valid."},
	{"RequestThrottled", "RequestThrottled", 403, "Rate exceeded."},
	{"ResourceNotFoundException", "ResourceNotFoundException", 404, "One or more specified resources don't exist."},
	{"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, "The batch request contains more entries than permissible."},
	{"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, "Unsupported operation."},

	// Common errors without a type in the SDK.
	{"AccessDenied", "AccessDenied", 403, "Access to the resource is denied."},
	{"IncompleteSignature", "IncompleteSignature", 400, "The request signature does not conform to AWS standards."},
	{"InternalError", "InternalError", 500, "We encountered an internal error. Please try again."},
	{"InternalFailure", "InternalFailure", 500, "The request processing has failed because of an unknown error, exception or failure."},
	{"InvalidAction", "InvalidAction", 400, "The action or operation requested is invalid."},
	{"InvalidClientTokenId", "InvalidClientTokenId", 403, "The security token included in the request is invalid."},
	{"InvalidParameterValue", "InvalidParameterValue", 400, "An invalid or out-of-range value was supplied for the input parameter."},
	{"MissingParameter", "MissingParameter", 400, "A required parameter for the specified action is not supplied."},
	{"RequestEntityTooLarge", "RequestEntityTooLarge", 413, "The request is too large."},
	{"SerializationException", "SerializationException", 400, "The request body could not be parsed."},
	{"ServiceUnavailable", "ServiceUnavailable", 503, "Service is unavailable. Try again later."},
	{"SignatureDoesNotMatch", "SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided."},
	{"ThrottlingException", "ThrottlingException", 400, "Rate exceeded."},
	{"TooManyRequestsException", "TooManyRequestsException", 429, "Too many requests."},
	{"UnknownOperationException", "UnknownOperationException", 400, "The operation is not supported."},
	{"ExpiredToken", "ExpiredToken", 400, "The security token included in the request is expired."},
}

// errorIndex finds a spec by shape name or by legacy code.
var errorIndex = func() map[string]*errorSpec {
	m := make(map[string]*errorSpec, 2*len(errorSpecs))
	for i := range errorSpecs {
		e := &errorSpecs[i]
		m[e.query] = e
		m[e.shape] = e
	}
	return m
}()

// codeForStatus names the error a fault with a Status but no Code sends.
func codeForStatus(status int) string {
	switch status {
	case http.StatusForbidden:
		return "AccessDenied"
	case http.StatusTooManyRequests:
		return "TooManyRequestsException"
	case http.StatusInternalServerError:
		return "InternalError"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	}
	if text := http.StatusText(status); text != "" {
		return strings.ReplaceAll(text, " ", "")
	}
	return "InternalError"
}

// apiError is an error response.
type apiError struct {
	shape  string
	query  string
	status int
	sender bool
	msg    string
}

// newError makes the error response for code, which may be a shape name
// ("QueueDoesNotExist", "KmsThrottled") or a legacy code
// ("AWS.SimpleQueueService.NonExistentQueue", "KMS.ThrottlingException").
// An empty msg takes the code's default message.
func newError(code, msg string) *apiError {
	e := &apiError{shape: code, query: code, status: http.StatusBadRequest, msg: msg}
	if spec, ok := errorIndex[code]; ok {
		e.shape, e.query, e.status = spec.shape, spec.query, spec.status
		if msg == "" {
			e.msg = spec.msg
		}
	}
	e.sender = e.status < 500
	return e
}

// errorStatus is the HTTP status SQS sends with code.
func errorStatus(code string) int {
	if spec, ok := errorIndex[code]; ok {
		return spec.status
	}
	return http.StatusBadRequest
}
