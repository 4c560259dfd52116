// The documented client surface of the Aster TypeScript binding (`@aster-rpc/aster`),
// written from its public API (README, high-level client and transport interfaces).
// The binding is not on the npm registry, so generated clients are type-checked
// against this file: `tsc --noEmit` with `paths` mapping `@aster-rpc/aster` here.

declare module '@aster-rpc/aster' {
  /** Options for a single RPC call. */
  export interface CallOptions {
    metadata?: Record<string, string>;
    deadlineEpochMs?: number;
    serializationMode?: number;
    callId?: string;
  }

  /** Bidirectional streaming channel. */
  export interface BidiChannel {
    send(msg: unknown): Promise<void>;
    [Symbol.asyncIterator](): AsyncIterator<unknown>;
    close(): Promise<void>;
    waitForTrailer(): Promise<[code: number, message: string]>;
  }

  /** The wire-level interface every transport implements. */
  export interface AsterTransport {
    unary(service: string, method: string, request: unknown, opts?: CallOptions): Promise<unknown>;
    serverStream(service: string, method: string, request: unknown, opts?: CallOptions): AsyncIterable<unknown>;
    clientStream(service: string, method: string, requests: AsyncIterable<unknown>, opts?: CallOptions): Promise<unknown>;
    bidiStream(service: string, method: string, opts?: CallOptions): BidiChannel;
    close(): Promise<void>;
  }

  export interface ExponentialBackoff {
    initialMs: number;
    maxMs: number;
    multiplier: number;
    jitter: number;
  }

  export interface AsterClientOptions {
    /** aster1... ticket, base64 NodeAddr, or hex EndpointId. */
    address?: string;
    /** @deprecated use `address`. */
    endpointAddr?: string;
    transport?: AsterTransport;
    config?: Record<string, unknown>;
    retryBackoff?: ExponentialBackoff;
  }

  /** Dynamic proxy: every property is a method taking a JSON-shaped payload. */
  export class ProxyClient {
    [method: string]: (payload?: unknown) => Promise<unknown>;
  }

  /** High-level client: connection, admission and client stubs. */
  export class AsterClientWrapper {
    constructor(opts: AsterClientOptions);
    readonly connected: boolean;
    readonly registryNamespace: string | undefined;
    readonly gossipTopic: string;
    connect(): Promise<void>;
    client<T extends new (...args: any[]) => any>(serviceClass: T): Promise<unknown>;
    service<T extends new (...args: any[]) => any>(serviceClass: T): unknown;
    proxy(serviceName: string): ProxyClient;
    reconnect(connectFn: () => Promise<AsterTransport>, maxAttempts?: number): Promise<void>;
    close(): Promise<void>;
  }
}
