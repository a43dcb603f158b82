/*
 * wachat graph codes: what the Graph API's error codes mean and what to do
 * about them, and the setup problems Meta reports with no code at all (for
 * logs and wachatctl doctor; see graph.h).
 */

#include <stddef.h>

#include "clients/graph.h"


typedef struct {
    long         code;
    const char  *text;
} wachat_graph_code_t;


static const wachat_graph_code_t  wachat_graph_codes[] = {
    { 0, "authentication failed (AuthException): the access token is not"
         " valid; use a permanent System User token (Business Settings >"
         " System users)" },
    { 1, "unknown Graph API error, usually temporary on Meta's side:"
         " retried with backoff" },
    { 2, "Graph API service temporarily unavailable: retried with"
         " backoff; see metastatus.com if it lasts" },
    { 3, "the app lacks the capability for this call: check that the"
         " app has the WhatsApp product and whatsapp_business_messaging" },
    { 4, "too many Graph API calls from this app (app rate limit):"
         " retried later" },
    { 10, "permission denied: the token lacks whatsapp_business_messaging"
          " or the app is not live; assign the app and the WhatsApp"
          " account to the System User and generate the token again" },
    { 100, "invalid parameter: a field of the request is wrong, or the"
           " phone_number_id does not exist or is not shared with this"
           " token (use the Phone number ID from API Setup)" },
    { 190, "the access token expired or is invalid: use a permanent"
           " System User token (Business Settings > System users);"
           " temporary tokens from API Setup expire within 24 hours" },
    { 200, "permission error: the token cannot use this WhatsApp account"
           " or number; assign the assets to the System User (Business"
           " Settings > System users > Assign assets) and regenerate the"
           " token with whatsapp_business_messaging" },
    { 368, "temporarily blocked for policy violations: check the"
           " account's quality in WhatsApp Manager; not retried" },
    { 80007, "WhatsApp Business Account rate limit reached: retried with"
             " backoff" },
    { 130429, "throughput limit of the number reached (80 messages/s by"
              " default): retried with backoff" },
    { 130472, "the customer is in a Meta marketing experiment group:"
              " not sent" },
    { 131000, "something went wrong on Meta's side: retried a few times" },
    { 131005, "access denied: the token lacks a permission for this call;"
              " check the System User's permissions and assets" },
    { 131008, "a required parameter is missing from the message" },
    { 131009, "a parameter value is invalid (too long text, bad button,"
              " or a number that does not belong to the account)" },
    { 131016, "a Meta service is temporarily unavailable: retried" },
    { 131021, "the recipient is the business number itself" },
    { 131026, "message undeliverable: the number is not on WhatsApp, has"
              " an old app, blocked the business or did not accept the"
              " terms" },
    { 131030, "recipient not in the allowed list: the app is in"
              " development mode; add the number under API Setup or"
              " take the app live" },
    { 131031, "the WhatsApp Business Account is locked: see WhatsApp"
              " Manager (policy or verification problem)" },
    { 131042, "payment problem on the WhatsApp Business Account: fix the"
              " payment method in WhatsApp Manager" },
    { 131045, "the number's certificate is wrong: register the phone"
              " number again" },
    { 131047, "more than 24 hours since the customer last wrote: only a"
              " template message can be sent" },
    { 131048, "spam rate limit: too many messages were blocked or"
              " reported; slow down and check quality in WhatsApp"
              " Manager" },
    { 131049, "withheld by Meta to maintain healthy ecosystem engagement:"
              " do not retry right away" },
    { 131051, "unsupported message type" },
    { 131052, "the customer's media could not be downloaded" },
    { 131053, "the media could not be uploaded" },
    { 131056, "too many messages to the same customer in a short time"
              " (pair rate limit): retried after 4^X seconds" },
    { 131057, "the account is in maintenance (e.g. a throughput upgrade,"
              " about a minute): retried" },
    { 132000, "template parameter count does not match the template" },
    { 132001, "the template does not exist in this language or is not"
              " approved" },
    { 132015, "the template is paused for low quality" },
    { 132016, "the template is disabled for low quality" },
    { 133000, "a previous deregistration of the number did not finish:"
              " deregister it again before registering" },
    { 133004, "Meta's server is temporarily unavailable: retried" },
    { 133005, "two-step verification PIN mismatch" },
    { 133006, "the phone number must be verified before registering" },
    { 133008, "too many two-step verification PIN guesses: try later" },
    { 133009, "two-step verification PIN entered too fast" },
    { 133010, "the phone number is not registered on the Cloud API:"
              " register it (POST /{phone_number_id}/register)" },
    { 135000, "generic user error: check the request parameters" },
};


const char *
wachat_graph_explain(long code)
{
    size_t  i, n;

    n = sizeof(wachat_graph_codes) / sizeof(wachat_graph_codes[0]);

    for (i = 0; i < n; i++) {
        if (wachat_graph_codes[i].code == code) {
            return wachat_graph_codes[i].text;
        }
    }

    if (code > 200 && code <= 299) {
        return wachat_graph_codes[8].text;        /* the 200 entry */
    }

    return NULL;
}


static const wachat_graph_hint_t  wachat_graph_hints[] = {
    { "temporary token expired",
      "error 190 after the setup worked for a few hours",
      "tokens from App Dashboard > WhatsApp > API Setup expire within"
      " 24 hours: create a System User (Business Settings > Users >"
      " System users), generate a token with whatsapp_business_messaging"
      " and whatsapp_business_management, put it in graph_token_file and"
      " reload wachatd (SIGHUP)" },
    { "app not live",
      "error 131030 (recipient not in allowed list), or real customers'"
      " messages never arrive",
      "in development mode only numbers listed under API Setup can be"
      " messaged and some webhooks are not sent: switch the app to Live"
      " in the App Dashboard" },
    { "webhook field messages not subscribed",
      "the callback URL verified but nothing reaches the stream",
      "App Dashboard > WhatsApp > Configuration > Webhook fields:"
      " subscribe 'messages', and POST /{WABA_ID}/subscribed_apps so the"
      " account delivers to the app" },
    { "assets not assigned",
      "errors 200, 10 or 100 (object does not exist or missing"
      " permissions) on GET /{phone_number_id}",
      "Business Settings > Users > System users > Assign assets: give the"
      " System User the app and the WhatsApp account, then generate the"
      " token again" },
    { "wrong phone number id",
      "error 100 (unsupported post request, object does not exist)",
      "use the Phone number ID shown under API Setup, not the phone"
      " number itself nor the WhatsApp Business Account id" },
};


const wachat_graph_hint_t *
wachat_graph_troubleshooting(size_t *n)
{
    *n = sizeof(wachat_graph_hints) / sizeof(wachat_graph_hints[0]);

    return wachat_graph_hints;
}
