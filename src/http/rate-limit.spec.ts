import type { IncomingMessage } from 'node:http';
import { addressTrust, clientAddress } from './rate-limit';

function request(socketAddress: string, forwardedFor?: string): IncomingMessage {
  const socket = { remoteAddress: socketAddress };
  return { socket, connection: socket, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} } as unknown as IncomingMessage;
}

describe('clientAddress', () => {
  it("is the socket's address when no proxy is trusted, whatever X-Forwarded-For says", () => {
    expect(clientAddress(request('127.0.0.1', '203.0.113.5'))).toBe('127.0.0.1');
    expect(clientAddress(request('10.1.2.3', '203.0.113.5'), addressTrust([]))).toBe('10.1.2.3');
  });

  it('is the nearest untrusted address in X-Forwarded-For when the socket is a trusted proxy', () => {
    const trust = addressTrust(['10.0.0.0/8', 'loopback']);
    expect(clientAddress(request('10.1.2.3', '203.0.113.5'), trust)).toBe('203.0.113.5');
    // Two trusted hops (client → 10.9.9.9 → 10.1.2.3); a forged entry before the real client is skipped.
    expect(clientAddress(request('10.1.2.3', '198.51.100.7, 203.0.113.5, 10.9.9.9'), trust)).toBe('203.0.113.5');
    // A socket outside the trusted list is the client itself.
    expect(clientAddress(request('192.0.2.1', '203.0.113.5'), trust)).toBe('192.0.2.1');
    expect(clientAddress(request('10.1.2.3'), trust)).toBe('10.1.2.3');
  });
});
