// Starts the local-aws-sqs emulator on 127.0.0.1 and prints its endpoint URL
// on the first line of stdout once it accepts connections. The port comes
// from SQS_EMULATOR_PORT (default 0: a free port chosen by the kernel).
import { createSqsServer } from "local-aws-sqs";

const port = Number(process.env.SQS_EMULATOR_PORT ?? 0);
const server = await createSqsServer({
  port,
  hostname: "127.0.0.1",
  region: "us-east-1",
  emulateQueueCreationLifecycle: false,
});
if (!server.listening) {
  await new Promise((resolve) => server.once("listening", resolve));
}
const addr = server.address();
console.log(`http://127.0.0.1:${addr.port}`);

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
