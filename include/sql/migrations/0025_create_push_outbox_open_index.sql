-- Each push resolves and sends the rows not yet sent.
CREATE INDEX IF NOT EXISTS push_outbox_open ON ops.push_outbox (target, state) WHERE state <> 'sent'
