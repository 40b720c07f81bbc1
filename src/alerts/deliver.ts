/**
 * Sends one alert to one receiver. Webhooks get Dirsync's JSON (signed when a secret is set) or a
 * Slack-compatible body; e-mail goes over SMTP with nodemailer. Errors say which receiver and what
 * went wrong, never a secret or the receiver's full URL (webhook URLs often embed a token).
 */
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { AlertsConfig } from '../../config/schema.js';
import { resolveSecret } from '../../config/secrets.js';
import { emailMessage, slackBody, type AlertEvent } from './events.js';

/** How long one delivery attempt may take. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/** The signature header value for a JSON body: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A receiver's URL without path, query or credentials, for error messages and logs. */
export function receiverOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

export class DeliveryError extends Error {
  constructor(
    message: string,
    /** False when retrying cannot help (a 4xx other than 408/429, a refused address). */
    readonly retryable = true,
  ) {
    super(message);
  }
}

async function sendWebhook(hook: AlertsConfig['webhooks'][number], event: AlertEvent): Promise<void> {
  const body = JSON.stringify(hook.format === 'slack' ? slackBody(event) : event);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'dirsync-alerts',
  };
  if (hook.format === 'json') {
    const timestamp = String(Math.floor(Date.now() / 1000));
    headers['x-dirsync-event'] = event.type;
    headers['x-dirsync-timestamp'] = timestamp;
    if (hook.secret) headers['x-dirsync-signature'] = signBody(resolveSecret(hook.secret), timestamp, body);
  }
  let res: Response;
  try {
    res = await fetch(hook.url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
  } catch (e) {
    throw new DeliveryError(`webhook ${receiverOrigin(hook.url)}: ${(e as Error).message}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) {
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    throw new DeliveryError(`webhook ${receiverOrigin(hook.url)} answered ${res.status}`, retryable);
  }
}

async function sendEmail(email: NonNullable<AlertsConfig['email']>, event: AlertEvent): Promise<void> {
  const transport = nodemailer.createTransport({
    host: email.host,
    port: email.port,
    secure: email.secure,
    connectionTimeout: ATTEMPT_TIMEOUT_MS,
    greetingTimeout: ATTEMPT_TIMEOUT_MS,
    socketTimeout: ATTEMPT_TIMEOUT_MS,
    ...(email.user
      ? { auth: { user: email.user, pass: email.password ? resolveSecret(email.password) : '' } }
      : {}),
  });
  const { subject, text } = emailMessage(event);
  try {
    await transport.sendMail({ from: email.from, to: email.to, subject, text });
  } catch (e) {
    const code = (e as { responseCode?: number }).responseCode;
    // 5xx SMTP replies are permanent (bad recipient, refused auth); others may pass later.
    throw new DeliveryError(
      `e-mail via ${email.host}:${email.port}: ${(e as Error).message}`,
      !(code && code >= 500),
    );
  } finally {
    transport.close();
  }
}

/** Sends `event` to `channel` (`webhook:<i>` or `email`) as configured now. */
export async function deliver(cfg: AlertsConfig, channel: string, event: AlertEvent): Promise<void> {
  if (channel === 'email') {
    if (!cfg.email) throw new DeliveryError('e-mail is no longer configured', false);
    return sendEmail(cfg.email, event);
  }
  const hook = cfg.webhooks[Number(channel.slice('webhook:'.length))];
  if (!channel.startsWith('webhook:') || !hook)
    throw new DeliveryError(`${channel} is no longer configured`, false);
  return sendWebhook(hook, event);
}
