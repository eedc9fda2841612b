# Environment of the local stack (sourced by scripts/run-local.sh and tests): a sandbox stands in for Meta.
# Values already set in the environment win.
export RASA_TELEMETRY_ENABLED=false
export SANDBOX_PORT=${SANDBOX_PORT:-8090}
export RASA_PORT=${RASA_PORT:-5005}
export ACTION_PORT=${ACTION_PORT:-5055}
export WHATSAPP_VERIFY_TOKEN=${WHATSAPP_VERIFY_TOKEN:-sandbox-verify-token}
export WHATSAPP_APP_SECRET=${WHATSAPP_APP_SECRET:-sandbox-secret}
export WHATSAPP_ACCESS_TOKEN=${WHATSAPP_ACCESS_TOKEN:-sandbox-token}
export WHATSAPP_PHONE_NUMBER_ID=${WHATSAPP_PHONE_NUMBER_ID:-100000000000001}
export WHATSAPP_API_URL=${WHATSAPP_API_URL:-http://127.0.0.1:$SANDBOX_PORT/v21.0}
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:$ACTION_PORT/webhook}
export HSM_SANDBOX_WEBHOOK_URL=${HSM_SANDBOX_WEBHOOK_URL:-http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/webhook}
export HSM_WEBHOOK_URL=${HSM_WEBHOOK_URL:-$HSM_SANDBOX_WEBHOOK_URL}
export HSM_SANDBOX_URL=${HSM_SANDBOX_URL:-http://127.0.0.1:$SANDBOX_PORT}
export API_PORT=${API_PORT:-8095}
# A development-only signing key for the local admin API; production sets its own (docs/deploy.md).
export ADMIN_JWT_SECRET=${ADMIN_JWT_SECRET:-local-development-only-not-a-secret-0123456789}
# A development-only secret between Rasa and the action server (endpoints.yml's token; HSM_ACTION_SERVER_TOKEN=
# make run runs both without one, with a warning); production sets its own.
export HSM_ACTION_SERVER_TOKEN=${HSM_ACTION_SERVER_TOKEN-local-development-only-action-server-token}
# The demo school's data describes the week of Mon 30 Nov 2026: freeze "now" in it unless told otherwise
# (HSM_NOW= make run uses the real clock).
export HSM_NOW=${HSM_NOW-2026-12-01T16:30:00+05:30}
# Payments: the development stand-in provider (links on the sandbox's host, no money moves) and a development-only
# secret for its webhooks; the application has no default for either. With RAZORPAY_KEY_ID set, Razorpay instead.
if [ -z "${RAZORPAY_KEY_ID:-}" ]; then
  export HSM_PAYMENT_PROVIDER=${HSM_PAYMENT_PROVIDER:-local}
  export HSM_PAYMENT_WEBHOOK_SECRET=${HSM_PAYMENT_WEBHOOK_SECRET:-local-development-only-payment-webhook-not-a-secret}
fi
