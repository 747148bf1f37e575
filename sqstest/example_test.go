package sqstest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook/sqstest"
)

func ExampleNewServer() {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("events", nil)

	// One throttled call, then normal service.
	srv.AddFault(sqstest.Fault{Op: "SendMessage", Code: "RequestThrottled", Times: 1})

	client := srv.Client()
	for i := 0; i < 2; i++ {
		_, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl:    aws.String(url),
			MessageBody: aws.String(`{"type":"message.new"}`),
		})
		fmt.Println("send:", err != nil)
	}
	for _, m := range srv.Received(url) {
		fmt.Println(m.Body)
	}
	if srv.Calls().Faults != 1 {
		log.Fatal("want one fault")
	}
	// Output:
	// send: true
	// send: false
	// {"type":"message.new"}
}
