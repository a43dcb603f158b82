package Wachat::Console;

# The agent console's test bench, for the headless-browser tests of
# t/console/: redis-server; wachatd with its agent API (api_listen and its
# secret), the agent alice and replies through the Graph API to a local
# stand-in; nginx with the webhook location and conf/nginx-agent.conf, the
# snippet shipped for production, whose auth_basic knows alice (password
# "secret", a {SHA} htpasswd written here).  The browser comes later, when
# the test is ready for it.  Core Perl only.
#
#   my $c = Wachat::Console->start(
#       name  => 'media',                 # build/console_media-failure.png
#       kb    => $KB,
#       alice => 'capacity=1',            # more of alice's agent line
#       conf  => "waba_id ...\n",         # more of wachatd's config
#       graph => $graph,                  # a stand-in of the test's own
#       http_extra => '...',              # into nginx's http block
#       on_failure => 'logs',             # the browser's logs, no screenshot
#   );
#   my $b = $c->browser(width => 1366, height => 900);
#   $b->get($c->login_url('#/c/...'));   # http://alice:secret@127.0.0.1:port/agent/...
#   $c->need($ok, 'a step the rest needs', @why);   # else diagnose, stop
#
# Every process is the other modules': stopped by PID at their end.  A test
# that uses this module is skipped where no headless browser can run
# (chromium and chromedriver not installed: scripts/install-deps does it).

use v5.36;

use Digest::SHA qw(sha1_base64);
use File::Temp ();
use Test::More ();

use Wachat::Browser qw(start_browser);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Files qw(root_dir spew);
use Wachat::Nginx qw(agent_snippet start_nginx wachat_location);
use Wachat::Process qw(free_port);
use Wachat::Redis qw(start_redis);
use Wachat::Standin;
use Wachat::Webhook qw(rand_token);

# the Graph API token wachatd sends with every request
use constant GRAPH_TOKEN => 'EAAG-console-test';

sub import ($class, @) {
    if (my $why = Wachat::Browser::missing()) {
        Test::More::plan(skip_all => "headless browser $why");
    }
}


sub start ($class, %o) {
    my $dir = File::Temp::tempdir('wachat-console-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { name => $o{name} // 'console', dir => $dir,
                       on_failure => $o{on_failure} // 'screenshot' }, $class;

    # replies go out through the Graph API, to a stand-in that records them
    $self->{graph} = $o{graph} // Wachat::Standin->start(kind => 'graph');
    $self->{redis} = start_redis();
    $self->{api_port} = free_port();

    my $token_file = spew("$dir/token", GRAPH_TOKEN . "\n", 0600);
    my $alice = join ' ', 'agent alice alice@example.com name="Alice"',
                          grep { defined } $o{alice};
    $self->{daemon} = start_wachatd(redis => $self->{redis}, kb => $o{kb},
                                    outbound => 'graph', conf => <<"EOF" . ($o{conf} // ''));
api_listen 127.0.0.1:$self->{api_port}
$alice
graph_api_url @{[$self->{graph}->url]}/v25.0
graph_token_file $token_file
EOF

    # The locations shipped for production (conf/nginx-agent.conf), with
    # this tree's console/, the password file, the daemon's API secret and
    # its API port.
    my $htpasswd = spew("$dir/htpasswd", 'alice:{SHA}' . sha1_base64('secret') . "=\n");
    my $console = agent_snippet(htpasswd => $htpasswd,
                                api => "127.0.0.1:$self->{api_port}",
                                secret_file => $self->{daemon}->api_secret_file);

    my $token = 'vt-' . rand_token(20);
    my $secret = 'as-' . rand_token(32);
    $self->{nginx} = start_nginx(redis => $self->{redis}, token => $token, secret => $secret,
        locations => wachat_location(token => $token, secret => $secret) . $console,
        defined $o{http_extra} ? (http_extra => $o{http_extra}) : ());

    return $self;
}

sub graph ($self)  { $self->{graph} }
sub redis ($self)  { $self->{redis} }
sub daemon ($self) { $self->{daemon} }
sub nginx ($self)  { $self->{nginx} }
sub port ($self)   { $self->{nginx}->port }

# the console's origin, and alice's way in: the browser's own basic auth
sub origin ($self) { 'http://127.0.0.1:' . $self->port }
sub login_url ($self, $rest = '') { 'http://alice:secret@127.0.0.1:' . $self->port . "/agent/$rest" }

sub browser ($self, %o) { $self->{browser} = start_browser(%o) }

# what a failure leaves to look at: a screenshot, or the browser's logs
sub failure_shot ($self) {
    my $b = $self->{browser} or return;
    if ($self->{on_failure} eq 'logs') {
        $b->diag_logs;
        return;
    }
    my $f = root_dir() . "/build/console_$self->{name}-failure.png";
    mkdir root_dir() . '/build';
    eval { $b->screenshot($f); Test::More::diag("screenshot of the failure: $f") };
}

# A step the rest of the scenario needs: on failure, say why and stop here.
sub need ($self, $ok, $name, @why) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;     # the caller's line
    return 1 if Test::More::ok($ok, $name);
    Test::More::diag($_) for grep { defined && length } @why;
    $self->failure_shot;
    my @log = split /\n/, $self->{daemon}->log_text;
    Test::More::diag("wachatd log:\n" . join("\n", @log > 30 ? @log[-30 .. -1] : @log));
    Test::More::done_testing();
    exit 1;
}

1;
