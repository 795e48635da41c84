import net from "node:net";

/**
 * No test may contact the network (issue 16, item 6): every test file runs with this setup, which
 * refuses a connection to anything but this machine (loopback servers of the tests stay usable) before
 * a name is even looked up. Child processes the tests start (the command line) get HF_ENDPOINT pointed
 * at a closed loopback port, so that a hub download there fails at once instead of going out.
 */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/i;

type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;
const connect = net.Socket.prototype.connect as unknown as Connect;

function hostOf(args: unknown[]): string | null {
  const [first, second] = args;
  if (Array.isArray(first)) return hostOf(first);
  if (typeof first === "object" && first !== null) {
    const o = first as { host?: string; path?: string };
    return o.path !== undefined ? null : (o.host ?? "localhost");
  }
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first)))
    return typeof second === "string" ? second : "localhost";
  // A string that is no port is a unix socket path.
  return null;
}

(net.Socket.prototype as unknown as { connect: Connect }).connect = function (
  this: net.Socket,
  ...args: unknown[]
) {
  const host = hostOf(args);
  if (host !== null && !LOOPBACK.test(host))
    throw new Error(
      `a test tried to connect to ${host}: tests must not use the network (test/setup/no-network.ts)`,
    );
  return connect.apply(this, args);
};

process.env.HF_ENDPOINT ??= "http://127.0.0.1:9";
