/**
 * Preallocated send buffers for the per-packet path.
 *
 * Node's `dgram.Socket#send(buf, offset, length, port, address)` does NOT copy `buf`: it resolves the address
 * through `dns.lookup`, which for an IP literal answers on process.nextTick, and only then hands the bytes to
 * libuv — synchronously through `uv_udp_try_send` when the socket is writable, otherwise queued with
 * `uv_udp_send` until the kernel takes them (measured: a buffer overwritten right after send() goes out with
 * the new bytes). A single reused output buffer would therefore corrupt every packet but the last of a burst,
 * and a fixed ring is unsafe once the kernel queue backs up. So each send takes a slot and the send callback
 * (one function per slot, created once — no per-packet closure) returns it. With no free slot the socket is
 * backed up and the packet is dropped and counted: for real-time media that is the right backpressure.
 * Measured on loopback: a send with a callback costs the same CPU as one without.
 */
export class SendSlot {
  readonly buf: Buffer;
  readonly done: (error: Error | null) => void;
  #view: Buffer;

  constructor(buf: Buffer, release: (slot: SendSlot, error: Error | null) => void) {
    this.buf = buf;
    this.#view = buf;
    this.done = (error: Error | null): void => release(this, error);
  }

  /**
   * `buf.subarray(0, length)`, kept for the next call of the same length (a voice stream's packets all have
   * one): handed to `send(view, port, address, done)`, it spares the view dgram would otherwise cut per packet
   * from `send(buf, offset, length, …)`.
   */
  view(length: number): Buffer {
    let view = this.#view;
    if (view.length !== length) {
      view = this.buf.subarray(0, length);
      this.#view = view;
    }
    return view;
  }
}

export class SendPool {
  readonly slotSize: number;
  readonly #free: SendSlot[] = [];
  #errors = 0;

  constructor(slots: number, slotSize: number) {
    this.slotSize = slotSize;
    const memory = Buffer.allocUnsafeSlow(slots * slotSize);
    const release = (slot: SendSlot, error: Error | null): void => {
      if (error !== null) this.#errors++;
      this.#free.push(slot);
    };
    for (let i = 0; i < slots; i++) this.#free.push(new SendSlot(memory.subarray(i * slotSize, (i + 1) * slotSize), release));
  }

  /** A free slot, or undefined when every slot is still owned by an unfinished send. */
  acquire(): SendSlot | undefined {
    return this.#free.pop();
  }

  /** Returns a slot that was acquired but not handed to the socket. */
  release(slot: SendSlot): void {
    this.#free.push(slot);
  }

  get available(): number {
    return this.#free.length;
  }

  /** Sends whose callback reported an error (the kernel refused the datagram). */
  get errors(): number {
    return this.#errors;
  }
}
