package sqshook_test

// Runnable examples of the main uses of the package: embedding a dispatcher,
// dead letters, changing hooks, the IAM documents for role hooks, checking a
// hook and role auth, most against the in-process endpoint of package sqstest.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

func ExampleParseHooks() {
	hooks, err := sqshook.ParseHooks([]byte(`{"event_hooks": [
		{"enabled": true, "hook_type": "sqs",
		 "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/MyQueue",
		 "sqs_region": "us-east-1", "sqs_auth_type": "keys",
		 "sqs_key": "AKIAIOSFODNN7EXAMPLE", "sqs_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		 "event_types": []},
		{"enabled": true, "hook_type": "webhook"}
	]}`))
	if err != nil {
		log.Fatal(err)
	}
	_, err = sqshook.ValidateHooks(hooks, sqshook.ValidateOptions{})
	var ve *sqshook.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	fmt.Println(hooks[0].SQSSecret == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	fmt.Printf("%v\n", hooks[0].Redacted().SQSSecret)
	// Output:
	// hooks[1].hook_type: "webhook" hooks are not delivered by this library; only "sqs"
	// hooks[1].sqs_queue_url: required
	// hooks[1].sqs_region: required
	// hooks[1].sqs_auth_type: required; must be "keys", "resource" or "role"
	// true
	// [REDACTED]
}

func ExampleCompileFilter() {
	f, err := sqshook.CompileFilter([]string{"message.*", "user.banned"})
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range []string{"message.new", "message.updated", "user.banned", "reaction.new"} {
		fmt.Println(ev, f.Match(ev))
	}
	// Output:
	// message.new true
	// message.updated true
	// user.banned true
	// reaction.new false
}

func ExampleSizeGuard_Prepare() {
	g := sqshook.SizeGuard{MaxMessageBytes: 64}
	body, err := g.Prepare([]byte("{\"text\":\"bell\x07\"}"), nil)
	fmt.Println(body, err)

	_, err = g.Prepare([]byte(`{"text":"this chat message is longer than the sixty-four bytes."}`), nil)
	var ge *sqshook.GuardError
	if errors.As(err, &ge) {
		fmt.Println(ge.Reason, ge.Bytes, ge.Max)
	}
	// Output:
	// {"text":"bell\u0007"} <nil>
	// too_large 65 64
}

func ExampleDecodeBody() {
	sent, _ := sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}.Prepare([]byte(`{"type":"message.new"}`), nil)
	event, err := sqshook.DecodeBody(sent)
	fmt.Println(string(event), err)
	// Output:
	// {"type":"message.new"} <nil>
}

func ExampleResourcePolicy() {
	doc, err := sqshook.ResourcePolicy(
		"https://sqs.us-west-2.amazonaws.com/111111111111/customer-sqs-for-stream",
		"185583345998",
		sqshook.ResourcePolicyOptions{},
	)
	if err != nil {
		log.Fatal(err)
	}
	js, _ := doc.MarshalIndent()
	fmt.Println(string(js))
	// Output:
	// {
	//   "Version": "2012-10-17",
	//   "Statement": [
	//     {
	//       "Sid": "AllowSqshookSend",
	//       "Effect": "Allow",
	//       "Principal": {
	//         "AWS": "arn:aws:iam::185583345998:root"
	//       },
	//       "Action": "SQS:SendMessage",
	//       "Resource": "arn:aws:sqs:us-west-2:111111111111:customer-sqs-for-stream"
	//     }
	//   ]
	// }
}

func ExampleAllows() {
	policy := []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"185583345998"},"Action":"sqs:Send*","Resource":"arn:aws:sqs:us-west-2:111111111111:*"},
		{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"arn:aws:sqs:us-west-2:111111111111:private"}]}`)
	for _, queue := range []string{"events", "private"} {
		d, err := sqshook.Allows(policy, "arn:aws:iam::185583345998:role/chat-server", "sqs:SendMessage", "arn:aws:sqs:us-west-2:111111111111:"+queue)
		fmt.Println(queue, d, err)
	}
	// Output:
	// events allow <nil>
	// private explicit deny <nil>
}

// ExampleNew embeds a dispatcher as a chat server would: hooks from the
// configuration, a dead-letter callback, Publish for every event, Close at
// shutdown. An in-process SQS endpoint (package sqstest) stands in for AWS;
// in production leave WithEndpoint out.
func ExampleNew() {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("chat-events", nil)

	hooks, err := sqshook.ParseHooks([]byte(`[{"id": "messages", "enabled": true, "hook_type": "sqs",
		"sqs_queue_url": "` + url + `", "sqs_region": "us-east-1",
		"sqs_auth_type": "keys", "sqs_key": "AKIAEXAMPLEEXAMPLE00", "sqs_secret": "example-secret",
		"event_types": ["message.*"]}]`))
	if err != nil {
		log.Fatal(err)
	}
	d, err := sqshook.New(hooks,
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithLinger(20*time.Millisecond),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
			log.Printf("hook %s: %s %s: %s %s", dl.HookID, dl.Event.Type, dl.Event.ID, dl.Reason, dl.Code)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, typ := range []string{"message.new", "typing.start", "message.updated"} {
		ev, err := sqshook.NewEvent(typ, map[string]string{"type": typ})
		if err != nil {
			log.Fatal(err)
		}
		if err := d.Publish(ctx, ev); err != nil {
			log.Fatal(err)
		}
	}
	if err := d.Close(ctx); err != nil { // delivers what is buffered
		log.Fatal(err)
	}
	var got []string // in order of arrival, which concurrent calls may change
	for _, m := range srv.Received(url) {
		got = append(got, m.Attributes[sqshook.AttrEventType].StringValue+" "+m.Body)
	}
	slices.Sort(got)
	fmt.Println(strings.Join(got, "\n"))
	// Output:
	// message.new {"type":"message.new"}
	// message.updated {"type":"message.updated"}
}

// ExampleWithDeadLetter shows what a dead letter carries: the queue was
// deleted, so the event cannot be delivered and is handed back.
func ExampleWithDeadLetter() {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("gone", nil)
	srv.DeleteQueue(url)

	d, err := sqshook.New([]sqshook.Hook{{
		ID: "gone", Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example-secret",
	}}, sqshook.WithEndpoint(srv.URL()),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
			fmt.Println("dead letter:", dl.HookID, dl.Event.ID, dl.Event.Type, dl.Reason, dl.Code)
		}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Publish(ctx, sqshook.Event{ID: "ev-1", Type: "message.new", Body: []byte(`{"text":"hi"}`)}); err != nil {
		log.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		log.Fatal(err)
	}
	st, _ := d.Stats().Hook("gone")
	fmt.Println("delivered", st.Delivered, "dead-lettered", st.DeadLettered)
	// Output:
	// dead letter: gone ev-1 message.new rejected AWS.SimpleQueueService.NonExistentQueue
	// delivered 0 dead-lettered 1
}

func ExampleDispatcher_Publish() {
	var d *sqshook.Dispatcher // from sqshook.New
	ev, err := sqshook.NewEvent("message.new", map[string]any{
		"type": "message.new",
		"cid":  "messaging:general",
		"message": map[string]any{
			"id":   "8bffc454-e1da-4d91-8b88-a87853dfb41c",
			"text": "Welcome to the Community!",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Waits at most a second for room in a full hook queue.
	if err := d.Publish(ctx, ev); err != nil {
		var de *sqshook.DeliveryError
		if errors.As(err, &de) {
			log.Printf("not delivered to hook %s: %s", de.HookID, de.Reason)
		}
	}
}

// ExampleDispatcher_SetHooks adds a hook while the dispatcher runs: events
// published after SetHooks returns reach it too.
func ExampleDispatcher_SetHooks() {
	srv := sqstest.NewServer()
	defer srv.Close()
	hook := func(id string, types ...string) sqshook.Hook {
		return sqshook.Hook{
			ID: id, Enabled: true, HookType: sqshook.HookTypeSQS, SQSQueueURL: srv.CreateQueue(id, nil),
			SQSRegion: "us-east-1", SQSAuthType: sqshook.AuthKeys,
			SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example-secret", EventTypes: types,
		}
	}
	d, err := sqshook.New([]sqshook.Hook{hook("all")}, sqshook.WithEndpoint(srv.URL()))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	publish := func(typ string) {
		if err := d.Publish(ctx, sqshook.Event{Type: typ, Body: []byte(`{"type":"` + typ + `"}`)}); err != nil {
			log.Fatal(err)
		}
	}
	publish("user.banned")

	// Read, append, write back: the list is replaced whole, so start from
	// the current one.
	hooks := append(d.Hooks(), hook("moderation", "user.banned", "message.flagged"))
	if err := d.SetHooks(hooks); err != nil {
		log.Fatal(err) // nothing changed
	}
	publish("message.flagged")
	publish("message.new")
	if err := d.Close(ctx); err != nil {
		log.Fatal(err)
	}
	for _, h := range d.Hooks() {
		var types []string
		for _, m := range srv.Received(h.SQSQueueURL) {
			types = append(types, m.Attributes[sqshook.AttrEventType].StringValue)
		}
		slices.Sort(types) // arrival order may vary: calls run concurrently
		fmt.Println(h.ID+":", strings.Join(types, " "))
	}
	// Output:
	// all: message.flagged message.new user.banned
	// moderation: message.flagged
}

// ExampleTrustPolicy prints the two documents a customer needs for a
// "role" hook: the trust policy of the role the server assumes, and the
// permission policy that lets the role send to the queue.
func ExampleTrustPolicy() {
	trust, err := sqshook.TrustPolicy("arn:aws:iam::185583345998:role/chat-server", "tenant-a-7f3c9e")
	if err != nil {
		log.Fatal(err)
	}
	js, _ := trust.MarshalIndent()
	fmt.Println(string(js))
	// Output:
	// {
	//   "Version": "2012-10-17",
	//   "Statement": [
	//     {
	//       "Sid": "AllowSqshookAssumeRole",
	//       "Effect": "Allow",
	//       "Principal": {
	//         "AWS": "arn:aws:iam::185583345998:role/chat-server"
	//       },
	//       "Action": "sts:AssumeRole",
	//       "Condition": {
	//         "StringEquals": {
	//           "sts:ExternalId": "tenant-a-7f3c9e"
	//         }
	//       }
	//     }
	//   ]
	// }
}

// ExamplePermissionPolicy prints the permission policy of a "role" hook's
// role: what it may do with the customer's queue, and nothing else.
func ExamplePermissionPolicy() {
	perm, err := sqshook.PermissionPolicy("https://sqs.us-west-2.amazonaws.com/111111111111/customer-events")
	if err != nil {
		log.Fatal(err)
	}
	js, _ := perm.MarshalIndent()
	fmt.Println(string(js))
	// Output:
	// {
	//   "Version": "2012-10-17",
	//   "Statement": [
	//     {
	//       "Sid": "SqshookSend",
	//       "Effect": "Allow",
	//       "Action": [
	//         "sqs:GetQueueUrl",
	//         "sqs:SendMessage",
	//         "sqs:SendMessageBatch",
	//         "sqs:GetQueueAttributes"
	//       ],
	//       "Resource": "arn:aws:sqs:us-west-2:111111111111:customer-events"
	//     }
	//   ]
	// }
}

// ExampleCheckHook tests a hook's settings against its queue before it is
// saved, as a settings page would.
func ExampleCheckHook() {
	srv := sqstest.NewServer()
	defer srv.Close()
	good := sqshook.Hook{
		Enabled: true, HookType: "sqs", SQSQueueURL: srv.CreateQueue("events", nil), SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example-secret",
	}
	missing := good
	missing.SQSQueueURL = srv.QueueURL("no-such-queue")
	for _, h := range []sqshook.Hook{good, missing} {
		res := sqshook.CheckHook(context.Background(), h, sqshook.CheckOptions{Endpoint: srv.URL(), SendTestMessage: true})
		if res.Status == sqshook.CheckOK {
			fmt.Println("ok, test message sent:", res.TestMessageID != "")
			continue
		}
		fmt.Printf("%s at %s (%s): %s\n", res.Status, res.Step, res.Code, strings.ReplaceAll(res.Error, srv.URL(), "<endpoint>"))
	}
	// Output:
	// ok, test message sent: true
	// error at get_queue_attributes (AWS.SimpleQueueService.NonExistentQueue): no such queue: <endpoint>/123456789012/no-such-queue does not exist in region us-east-1 (check the URL, the region and the account)
}

// Example_roleAuth delivers to a customer's queue through a "role" hook:
// the server assumes the customer's role (with the ExternalId the server
// assigned to that customer) and sends with the role's credentials. The
// in-process endpoint plays STS too; in production the server's own
// credentials come from its environment.
func Example_roleAuth() {
	const (
		serverKey  = "AKIASERVERIDENTITY01"
		server     = "arn:aws:iam::185583345998:role/chat-server"
		role       = "arn:aws:iam::" + sqstest.AccountID + ":role/sqshook-sender"
		externalID = "tenant-a-7f3c9e"
	)
	srv := sqstest.NewServer()
	defer srv.Close()
	srv.AddIdentity(serverKey, server)
	srv.AddRole(sqstest.Role{ARN: role, TrustedPrincipals: []string{server}, ExternalID: externalID})
	url := srv.CreateQueue("tenant-events", nil)

	d, err := sqshook.New([]sqshook.Hook{{
		ID: "tenant", Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: sqshook.AuthRole, SQSRoleARN: role,
	}}, sqshook.WithEndpoint(srv.URL()), sqshook.WithExternalID(externalID),
		sqshook.WithClientOptions(sqshook.ClientOptions{
			STSEndpoint: srv.URL(),
			LoadDefaultConfig: func(context.Context) (aws.Config, error) { // the server's own credentials
				return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(serverKey, "server-secret", "")}, nil
			},
		}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: []byte(`{"text":"hello"}`)}); err != nil {
		log.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		log.Fatal(err)
	}
	for _, c := range srv.AssumeRoleCalls() {
		fmt.Println("AssumeRole", c.RoleARN, "by", c.Caller, "ExternalId", c.ExternalID, "session", c.SessionName)
	}
	for _, m := range srv.Received(url) {
		fmt.Println("received", m.Body)
	}
	// Output:
	// AssumeRole arn:aws:iam::123456789012:role/sqshook-sender by arn:aws:iam::185583345998:role/chat-server ExternalId tenant-a-7f3c9e session sqshook-tenant-a-7f3c9e-7aa21b397a
	// received {"text":"hello"}
}

// Example_sqstest runs the dispatcher against an in-process SQS endpoint
// that throttles the first call: the event is retried and delivered.
func Example_sqstest() {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("events", nil)
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Times: 1})

	d, err := sqshook.New([]sqshook.Hook{{
		ID: "events", Enabled: true, HookType: "sqs",
		SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example",
	}}, sqshook.WithEndpoint(srv.URL()), sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond}))
	if err != nil {
		log.Fatal(err)
	}
	ev, _ := sqshook.NewEvent("message.new", map[string]string{"text": "hello"})
	if err := d.Publish(context.Background(), ev); err != nil {
		log.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	st, _ := d.Stats().Hook("events")
	fmt.Println("matched", st.Matched, "delivered", st.Delivered, "retries", st.Retries)
	for _, m := range srv.Received(url) {
		fmt.Println(m.Body, m.Attributes[sqshook.AttrEventType].StringValue)
	}
	fmt.Println("calls", srv.Calls().Calls["SendMessageBatch"])
	// Output:
	// matched 1 delivered 1 retries 1
	// {"text":"hello"} message.new
	// calls 2
}
