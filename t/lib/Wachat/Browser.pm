package Wachat::Browser;

# Headless Chromium driven through chromedriver's W3C WebDriver HTTP
# protocol, from core Perl (HTTP::Tiny + JSON::PP).
#
#   my $why = Wachat::Browser::missing();        # undef when usable
#   my $b = start_browser(width => 1366, height => 820);
#   $b->get("http://alice:secret\@127.0.0.1:$port/agent/");
#   my $el = $b->wait_for('#conv-list a.conv-item', timeout => 10);
#   $b->click($el);  $b->type($el, "hello", ENTER);  $b->text($el);
#   $b->js('return document.title');            # execute/sync
#   $b->screenshot('docs/console.png');
#   $b->quit;
#
# chromedriver runs on a free 127.0.0.1 port, Chromium with its own
# temporary profile; both are stopped by PID (the session deleted first, so
# Chromium exits; any Chromium process left behind is killed by PID too) on
# quit, on destruction and in Wachat::Process's END block.
#
# Environment: WACHAT_CHROMIUM (default /usr/bin/chromium),
# WACHAT_CHROMEDRIVER (default /usr/bin/chromedriver).

use v5.36;

use Exporter qw(import);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(start_browser ENTER SHIFT);

# WebDriver key codes (W3C WebDriver, "keyboard actions")
use constant ENTER => "\x{E007}";
use constant SHIFT => "\x{E008}";

my $ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub chromium_path { $ENV{WACHAT_CHROMIUM} // '/usr/bin/chromium' }
sub chromedriver_path { $ENV{WACHAT_CHROMEDRIVER} // '/usr/bin/chromedriver' }

# Why no browser test can run here (undef: it can).
sub missing {
    my @no;
    push @no, chromium_path() . ' (Debian package chromium)' unless -x chromium_path();
    push @no, chromedriver_path() . ' (Debian package chromium-driver)' unless -x chromedriver_path();
    return @no ? 'not installed: ' . join(', ', @no) . '; scripts/install-deps installs them' : undef;
}

sub start_browser (%o) { Wachat::Browser::Session->new(%o) }


package Wachat::Browser::Session;

use v5.36;
use Time::HiRes qw(time sleep);
use MIME::Base64 qw(decode_base64);
use Wachat::Files qw(spew);
use Wachat::Process qw(poll_until);

sub new ($class, %o) {
    my $dir = File::Temp::tempdir('wachat-browser-XXXXXX', TMPDIR => 1,
                                  CLEANUP => !$ENV{WACHAT_KEEP_TMP});
    my $self = bless {
        dir   => $dir,
        log   => "$dir/chromedriver.log",
        http  => HTTP::Tiny->new(timeout => $o{timeout} // 60, keep_alive => 1),
        owner => $$,
    }, $class;
    Wachat::Process::register($self);
    $self->start_driver;
    $self->new_session(%o);
    return $self;
}

sub log_file ($self) { $self->{log} }
sub dir ($self)      { $self->{dir} }

sub start_driver ($self) {
    for my $try (1 .. 5) {
        my $port = Wachat::Process::free_port();
        my $pid = Wachat::Process::spawn(
            [Wachat::Browser::chromedriver_path(), "--port=$port",
             '--allowed-ips=127.0.0.1', "--log-path=$self->{log}"],
            out => "$self->{dir}/chromedriver.out");
        $self->{driver_pid} = $pid;
        $self->{base} = "http://127.0.0.1:$port";
        my $state = poll_until(sub {
            return 'dead' if defined Wachat::Process::reaped($pid);
            my $r = $self->{http}->get("$self->{base}/status");
            return undef unless $r->{success};
            my $v = eval { $JSON->decode($r->{content}) } // {};
            return $v->{value}{ready} ? 'up' : undef;
        }, timeout => 20, interval => 0.05);
        return if ($state // '') eq 'up';
        Wachat::Process::stop_pid($pid, 5) if ($state // '') ne 'dead';
        delete $self->{driver_pid};
        my $out = Wachat::Files::slurp("$self->{dir}/chromedriver.out");
        next if $out =~ /address already in use|bind\(\) failed|Port not available/i && $try < 5;
        die "chromedriver did not start (" . ($state // 'timeout') . "):\n$out";
    }
}

# The W3C new-session request: Chromium headless, its own profile, nothing
# that reaches the network by itself.
sub new_session ($self, %o) {
    my $w = $o{width}  // 1366;
    my $h = $o{height} // 820;
    my @args = (
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
        '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--no-default-browser-check',
        '--disable-extensions', '--mute-audio', '--hide-scrollbars',
        '--force-color-profile=srgb', '--lang=en-US',
        "--window-size=$w,$h",
        "--user-data-dir=$self->{dir}/profile",
        @{ $o{args} // [] },
    );
    my $v = $self->cmd(POST => '/session', {
        capabilities => {
            alwaysMatch => {
                browserName => 'chrome',
                pageLoadStrategy => 'normal',
                'goog:loggingPrefs' => { browser => 'ALL' },
                'goog:chromeOptions' => {
                    binary => Wachat::Browser::chromium_path(),
                    args   => \@args,
                    prefs  => { 'intl.accept_languages' => 'en-US' },
                },
                timeouts => { implicit => 0, pageLoad => 30000, script => 30000 },
            },
        },
    }, 'no session');
    $self->{session} = $v->{sessionId} or die "new session: no sessionId in answer";
    # what Chromium processes belong to us (children of chromedriver)
    $self->{browser_pids} = [ $self->descendants($self->{driver_pid}) ];
    return $self;
}

sub descendants ($self, $pid) {
    my @out;
    my @todo = ($pid);
    while (defined(my $p = shift @todo)) {
        my @kids = Wachat::Process::child_pids($p);
        push @out, @kids;
        push @todo, @kids;
    }
    return @out;
}

# One WebDriver command; returns its "value", dies with the WebDriver error
# (error, message) otherwise.
sub cmd ($self, $method, $path, $body = undef, $no_session = 0) {
    my $url = $self->{base} . ($no_session ? $path : "/session/$self->{session}$path");
    my %req = (headers => { 'Content-Type' => 'application/json; charset=utf-8' });
    $req{content} = $JSON->encode($body // {}) if $method eq 'POST';
    my $r = $self->{http}->request($method, $url, \%req);
    my $v = eval { $JSON->decode($r->{content}) };
    if (!$r->{success}) {
        my $e = ref $v eq 'HASH' && ref $v->{value} eq 'HASH' ? $v->{value} : {};
        my $msg = $e->{message} // $r->{content} // '';
        $msg = substr($msg, 0, 600);
        die "WebDriver $method $path: $r->{status} " . ($e->{error} // $r->{reason}) . ": $msg\n";
    }
    return ref $v eq 'HASH' ? $v->{value} : undef;
}

sub get ($self, $url) { $self->cmd(POST => '/url', { url => $url }); return $self }
sub url ($self)        { $self->cmd(GET => '/url') }
sub title ($self)      { $self->cmd(GET => '/title') }
sub refresh ($self)    { $self->cmd(POST => '/refresh', {}) }

sub set_window ($self, $w, $h) {
    $self->cmd(POST => '/window/rect', { width => $w, height => $h });
}

# Sizes the window so that the page itself (the viewport) is $w x $h.
sub set_viewport ($self, $w, $h) {
    for (1 .. 3) {
        my ($iw, $ih) = @{ $self->js('return [window.innerWidth, window.innerHeight]') };
        return 1 if $iw == $w && $ih == $h;
        my $r = $self->cmd(GET => '/window/rect');
        $self->set_window($r->{width} + $w - $iw, $r->{height} + $h - $ih);
    }
    return 0;
}

# Runs JavaScript in the page (a function body: use "return").
sub js ($self, $script, @args) {
    return $self->cmd(POST => '/execute/sync', { script => $script, args => \@args });
}

# Elements are { element-6066-... => id } references, passed back as they are.
sub find ($self, $css) {
    my $v = eval { $self->cmd(POST => '/element', { using => 'css selector', value => $css }) };
    return undef if !$v || $@;
    return $v;
}

sub find_all ($self, $css) {
    my $v = $self->cmd(POST => '/elements', { using => 'css selector', value => $css });
    return @{ $v // [] };
}

sub eid ($el) { ref $el eq 'HASH' ? $el->{$ELEMENT} : $el }

sub click ($self, $el) { $self->cmd(POST => '/element/' . eid($el) . '/click', {}); return $self }
# Finds and clicks, again if the page replaced the element in between (a
# live page re-renders when events come in).
sub click_css ($self, $css, %o) {
    my $err;
    my $ok = poll_until(sub {
        my $el = $self->find($css) or return 0;
        return 1 if eval { $self->click($el); 1 };
        $err = $@;
        die $err unless $err =~ /stale element|not interactable|click intercepted/;
        return 0;
    }, timeout => $o{timeout} // 10, interval => 0.1);
    die "click $css: " . ($err // 'no such element') unless $ok;
    return $self;
}

sub clear ($self, $el) { $self->cmd(POST => '/element/' . eid($el) . '/clear', {}); return $self }

sub type ($self, $el, @text) {
    $self->cmd(POST => '/element/' . eid($el) . '/value', { text => join('', @text) });
    return $self;
}

sub text ($self, $el)  { $self->cmd(GET => '/element/' . eid($el) . '/text') }
sub attr ($self, $el, $name) { $self->cmd(GET => '/element/' . eid($el) . "/attribute/$name") }
sub prop ($self, $el, $name) { $self->cmd(GET => '/element/' . eid($el) . "/property/$name") }
sub displayed ($self, $el) { $self->cmd(GET => '/element/' . eid($el) . '/displayed') }
sub enabled ($self, $el) { $self->cmd(GET => '/element/' . eid($el) . '/enabled') }

# Polls until a visible element matches $css (and $check->($el), if given).
sub wait_for ($self, $css, %o) {
    my $el;
    poll_until(sub {
        $el = $self->find($css) or return 0;
        my $ok = eval { $self->displayed($el) } or return 0;
        return 1 unless $o{check};
        return eval { $o{check}->($el) };
    }, timeout => $o{timeout} // 10, interval => $o{interval} // 0.1);
    return $el && eval { $self->displayed($el) } && (!$o{check} || eval { $o{check}->($el) })
        ? $el : undef;
}

# Polls a JavaScript expression until it returns a true value; returns it.
sub wait_js ($self, $script, %o) {
    return poll_until(sub { eval { $self->js($script, @{ $o{args} // [] }) } },
                      timeout => $o{timeout} // 10, interval => $o{interval} // 0.1);
}

# The page as a PNG (the viewport); written to $path if given.
sub screenshot ($self, $path = undef) {
    my $png = decode_base64($self->cmd(GET => '/screenshot'));
    if (defined $path) {
        spew("$path.tmp", $png);
        rename "$path.tmp", $path or die "rename $path: $!";
    }
    return $png;
}

# The browser's console messages (chromedriver's log), for diagnostics.
sub console_log ($self) {
    my $v = eval { $self->cmd(POST => '/se/log', { type => 'browser' }) } // [];
    return map { "$_->{level}: $_->{message}" } @$v;
}

sub quit ($self) {
    if ($self->{session}) {
        eval { $self->cmd(DELETE => '', undef) };
        delete $self->{session};
    }
    if (my $pid = delete $self->{driver_pid}) {
        my @kids = ($self->descendants($pid), @{ $self->{browser_pids} // [] });
        Wachat::Process::stop_pid($pid, 10);
        # a Chromium that outlived its driver: only the PIDs we saw start
        for my $k (@kids) {
            next unless kill 0, $k;
            kill 'TERM', $k;
            poll_until(sub { !kill 0, $k }, timeout => 5) or kill 'KILL', $k;
        }
    }
    Wachat::Process::unregister($self);
    return;
}

sub stop ($self) { $self->quit }

sub diag_logs ($self) {
    my @l = eval { $self->console_log };
    Test::More::diag("browser console:\n" . join("\n", @l)) if @l;
    Test::More::diag("chromedriver log: $self->{log}") if $ENV{WACHAT_KEEP_TMP};
}

sub DESTROY ($self) {
    return unless $$ == $self->{owner};
    $self->quit if $self->{driver_pid};
}

1;
