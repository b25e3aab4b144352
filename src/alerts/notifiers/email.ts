/**
 * Email through SMTP (nodemailer). Host, port and TLS come from `smtp_url`
 * (smtp:// upgrades with STARTTLS when the server offers it, smtps:// is TLS from the start);
 * credentials from the URL, or `user` + `password` / `password_file` in the config.
 */
import { readFileSync } from 'node:fs';
import type { Transporter } from 'nodemailer';
import { ConfigError } from '../../errors.js';
import type { Notice } from '../format.js';
import { errorText, redactUrl, scrub } from '../../redact.js';

export interface EmailSettings {
  smtp_url: string;
  from: string;
  user?: string;
  password?: string;
  password_file?: string;
  require_tls?: boolean;
  tls_reject_unauthorized?: boolean;
  timeout_ms?: number;
}

export class EmailNotifier {
  private transport: Transporter | null = null;
  private secrets: string[] = [];
  /** The SMTP server, safe to print. */
  readonly server: string;

  constructor(private readonly settings: EmailSettings) {
    this.server = redactUrl(settings.smtp_url);
  }

  private async open(): Promise<Transporter> {
    if (this.transport) return this.transport;
    const s = this.settings;
    let u: URL;
    try {
      u = new URL(s.smtp_url);
    } catch {
      throw new ConfigError(`alerts.email.smtp_url: "${this.server}" is not a URL (expected smtp://host:port or smtps://host:port)`, 'alerts.email.smtp_url');
    }
    const secure = u.protocol === 'smtps:';
    if (!secure && u.protocol !== 'smtp:') {
      throw new ConfigError(`alerts.email.smtp_url: unsupported scheme "${u.protocol}" (expected smtp:// or smtps://)`, 'alerts.email.smtp_url');
    }
    const user = s.user ?? (u.username ? decodeURIComponent(u.username) : undefined);
    let pass = s.password ?? (u.password ? decodeURIComponent(u.password) : undefined);
    if (s.password_file) {
      try {
        pass = readFileSync(s.password_file, 'utf8').trim();
      } catch (e) {
        throw new ConfigError(`alerts.email.password_file: cannot read ${s.password_file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'alerts.email.password_file');
      }
    }
    this.secrets = [pass, u.password].filter((x): x is string => !!x);
    const timeout = s.timeout_ms ?? 10_000;
    // Loaded on the first mail, not at start-up: most daemons never send one, and nodemailer
    // is some 35 modules.
    const { default: nodemailer } = await import('nodemailer');
    if (this.transport) return this.transport;
    this.transport = nodemailer.createTransport({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : secure ? 465 : 25,
      secure,
      requireTLS: s.require_tls ?? false,
      auth: user ? { user, pass } : undefined,
      tls: { rejectUnauthorized: s.tls_reject_unauthorized ?? true },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    return this.transport;
  }

  /** Send one notice; throws an Error whose message names the cause, with any secret removed. */
  async send(to: string[], notice: Notice): Promise<void> {
    if (to.length === 0) throw new Error('no recipients');
    try {
      await (await this.open()).sendMail({
        from: this.settings.from,
        to,
        subject: notice.subject,
        text: notice.text,
        headers: { 'X-Smart-Cron-Kind': notice.kind, ...(notice.alertId !== null ? { 'X-Smart-Cron-Alert': String(notice.alertId) } : {}) },
      });
    } catch (e) {
      throw new Error(scrub(errorText(e), [...this.secrets, this.settings.password]));
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = null;
  }
}
