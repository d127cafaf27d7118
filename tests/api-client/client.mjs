// An outside client in CI: modelfusion's Automatic1111 image model (the npm
// package, installed with `npm ci` from the committed lockfile) generating
// through the real `daub --serve` with the tiny fixture model.
//
//   node client.mjs DAUB_BINARY FIXTURES_DIR
//
// Starts Daub on a free loopback port with a scratch home, generates one
// image with modelfusion's generateImage, and checks it: a 64×64 PNG whose
// text chunk holds the prompt and the seed asked for. Exit status 0 when
// all holds.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { automatic1111, generateImage } from "modelfusion";

const [daub, fixtures] = process.argv.slice(2);
if (!daub || !fixtures) {
  console.error("usage: node client.mjs DAUB_BINARY FIXTURES_DIR");
  process.exit(2);
}

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
}

const home = mkdtempSync(join(tmpdir(), "daub-api-client-"));
const port = await freePort();
const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, "config"),
              XDG_DATA_HOME: join(home, "data"), DAUB_DATA_DIR: join(home, "daub") };
delete env.DISPLAY;
delete env.QT_QPA_PLATFORM;
const server = spawn(daub, ["--serve", "--listen", `127.0.0.1:${port}`,
                            "--model", join(fixtures, "tiny-sd15")], { env });
server.stderr.on("data", (chunk) => process.stderr.write(chunk));
try {
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("daub --serve did not start in 60 s")), 60000);
    server.stdout.on("data", (chunk) => {
      if (chunk.toString().includes("serves")) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.on("exit", (code) => reject(new Error(`daub --serve ended with ${code}`)));
  });

  const api = automatic1111.Api({ baseUrl: { host: "127.0.0.1", port: String(port) } });
  const png = await generateImage({
    model: automatic1111.ImageGenerator({
      api, model: "tiny-sd15", steps: 3, width: 64, height: 64, seed: 4242, cfgScale: 7,
      sampler: "Euler a",
    }).withTextPrompt(),
    prompt: "a lighthouse at dawn",
  });
  const bytes = Buffer.from(png);
  if (!bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    fail("the image is not a PNG");
  const width = bytes.readUInt32BE(16), height = bytes.readUInt32BE(20);
  if (width !== 64 || height !== 64) fail(`the image is ${width}×${height}, not 64×64`);
  const text = bytes.toString("latin1");
  if (!text.includes("a lighthouse at dawn")) fail("the PNG does not carry the prompt");
  if (!text.includes("Seed: 4242")) fail("the PNG does not carry the seed asked for");
  if (!text.includes("Sampler: Euler a")) fail("the PNG does not carry the sampler asked for");
  if (!process.exitCode)
    console.log(`modelfusion generated a ${width}×${height} PNG (${bytes.length} bytes) through Daub`);
} catch (error) {
  fail(error.message ?? String(error));
} finally {
  server.kill("SIGTERM");
  rmSync(home, { recursive: true, force: true });
}
