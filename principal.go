// principal.go finds the server's own AWS principal (DiscoverPrincipal,
// PrincipalFromARN), the one a customer's policy must allow.

package sqshook

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// STSAPI is the part of *sts.Client that DiscoverPrincipal calls, with the
// SDK's exact signature, so an *sts.Client satisfies it and tests can
// substitute their own implementation.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, params *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var _ STSAPI = (*sts.Client)(nil)

// DiscoverPrincipal asks STS who the server is (sts:GetCallerIdentity, which
// needs no permission) and returns the principal that a queue policy names
// to let the server send: the caller's ARN converted by PrincipalFromARN. An
// assumed-role session becomes its role, without the role's path, which the
// session ARN does not carry.
//
// Errors wrap the STS error (network, credentials) or, for an ARN that
// PrincipalFromARN refuses, ErrInvalidPolicy. Cancelling ctx cancels the STS
// call. DiscoverPrincipal is safe for concurrent use if client is.
func DiscoverPrincipal(ctx context.Context, client STSAPI) (string, error) {
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("sqshook: discovering the server's principal with sts:GetCallerIdentity: %w", err)
	}
	if out == nil || aws.ToString(out.Arn) == "" {
		return "", fmt.Errorf("sqshook: discovering the server's principal with sts:GetCallerIdentity: the answer has no ARN")
	}
	return PrincipalFromARN(aws.ToString(out.Arn))
}

// PrincipalFromARN converts the ARN of a caller identity, as
// sts:GetCallerIdentity reports it, into the principal a queue policy names:
//
//   - an assumed-role session, arn:<partition>:sts::<account>:assumed-role/<role>/<session>,
//     becomes the role, arn:<partition>:iam::<account>:role/<role>. A role
//     created with a path (such as the roles of IAM Identity Center, under
//     /aws-reserved/sso.amazonaws.com/) has the ARN …:role/<path>/<role>, but
//     the session ARN names the role without its path, so the path cannot be
//     recovered here. A queue policy that names such a role by its full ARN
//     does not match the returned one; name the role's ARN yourself in that
//     case (CheckOptions.Principal).
//   - IAM users (…:iam::<account>:user/[path/]name), roles
//     (…:iam::<account>:role/[path/]name) and account roots
//     (…:iam::<account>:root) are returned as they are.
//   - a federated user, arn:<partition>:sts::<account>:federated-user/<name>
//     (a GetFederationToken session), is returned as it is: a queue policy
//     may name it, but it is not an IAM principal, so Allows cannot evaluate
//     a policy for it.
//
// The partition is kept. Any other input gives an error wrapping
// ErrInvalidPolicy that names the rule it breaks. PrincipalFromARN is a pure
// function, safe for concurrent use.
func PrincipalFromARN(arn string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", policyErrorf("caller ARN %s: %s", policyQuote(arn), fmt.Sprintf(format, args...))
	}
	const shape = "want arn:<partition>:sts::<account-id>:assumed-role/<role>/<session>, …:sts::<account-id>:federated-user/<name> or an IAM user, role or root ARN"
	if len(arn) > policyMaxURL {
		return bad("is longer than %d bytes", policyMaxURL)
	}
	a, err := awsarn.Parse(arn)
	if err != nil {
		return bad("is not an ARN; %s", shape)
	}
	partition, service, region, account, resource := a.Partition, a.Service, a.Region, a.AccountID, a.Resource
	if !policyKnownPartition(partition) {
		return bad("partition %s is not a known AWS partition", policyQuote(partition))
	}
	if region != "" {
		return bad("IAM and STS principal ARNs have no region")
	}
	if !policyIsAccountID(account) {
		return bad("account ID %s is not 12 digits", policyQuote(account))
	}
	switch service {
	case "iam":
		if _, problem := policyParseIAMPrincipal(arn); problem != "" {
			return bad("%s", problem)
		}
		return arn, nil
	case "sts":
	default:
		return bad("service %s is neither iam nor sts; %s", policyQuote(service), shape)
	}
	kind, rest, _ := strings.Cut(resource, "/")
	switch kind {
	case "assumed-role":
		role, session, ok := strings.Cut(rest, "/")
		if !ok || session == "" || strings.Contains(session, "/") {
			return bad("an assumed-role ARN ends in assumed-role/<role>/<session>")
		}
		if problem := policyIAMPathNameProblem(role); problem != "" {
			return bad("role %s", problem)
		}
		return "arn:" + partition + ":iam::" + account + ":role/" + role, nil
	case "federated-user":
		if rest == "" || strings.Contains(rest, "/") {
			return bad("a federated-user ARN ends in federated-user/<name>")
		}
		return arn, nil
	}
	return bad("resource %s is neither assumed-role/<role>/<session> nor federated-user/<name>", policyQuote(resource))
}
