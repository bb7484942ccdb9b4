#!/usr/bin/perl
# A small HTTP/1.1 server on 127.0.0.1 for the http adapter's tests and
# benchmark: one process per connection, every request answered then closed.
#   server.pl <port file> <request log>
# Writes its port to <port file> once listening; appends "METHOD PATH" of
# every request to <request log>. Routes:
#   /ok            200, an adapter result (usage, cost, session, resultJson)
#   /echo          200, resultJson = the request's body and headers
#   /text          200, a body that is not JSON
#   /async         202 {"async":true}
#   /status/N      status N with a small JSON body
#   /slow/MS       200 after MS milliseconds
#   /huge          200 with 5 MB of body (no Content-Length)
#   /redirect/N?to=URL  status N (301, 302, 307 ...) with Location: URL
#   /manyheaders   200 with 100 KB of response headers (100 lines of 1 KB)
#   /hugeheader    200 with one 200 KB response header line
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(usleep);
use Fcntl qw(:flock);

my ($port_file, $log_file) = @ARGV;
die "usage: server.pl <port file> <request log>\n" unless $port_file && $log_file;
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 512,
                                   ReuseAddr => 1, Proto => 'tcp') or die "listen: $!\n";
open(my $pf, '>', "$port_file.tmp") or die; print $pf $server->sockport, "\n"; close $pf;
rename("$port_file.tmp", $port_file) or die;
$SIG{CHLD} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };

while (1) {
    my $client = $server->accept or next;
    my $pid = fork;
    if (!defined $pid) { close $client; next; }
    if ($pid == 0) { close $server; handle($client); exit 0; }
    close $client;
}

sub respond {
    my ($c, $status, $body, %headers) = @_;
    my $head = "HTTP/1.1 $status X\r\nConnection: close\r\n";
    $head .= "Content-Type: application/json\r\n" unless $headers{'Content-Type'};
    $head .= "$_: $headers{$_}\r\n" for sort keys %headers;
    $head .= "Content-Length: " . length($body) . "\r\n" unless $headers{'X-No-Length'};
    print $c $head, "\r\n", $body;
}

sub handle {
    my ($c) = @_;
    binmode $c;
    local $/ = "\r\n";
    my $line = <$c>;
    return unless defined $line;
    my ($method, $target) = split / /, $line;
    my %h;
    while (defined(my $l = <$c>)) {
        last if $l eq "\r\n";
        $l =~ s/\r\n$//;
        my ($k, $v) = split /:\s*/, $l, 2;
        $h{lc $k} = $v;
    }
    my $body = '';
    read($c, $body, $h{'content-length'}) if $h{'content-length'};
    if (open(my $log, '>>', $log_file)) {
        flock($log, LOCK_EX); print $log "$method $target\n"; close $log;
    }
    my ($path, $query) = split /\?/, $target, 2;
    $query //= '';
    if ($path eq '/ok') {
        respond($c, 200, encode_json({usage => {inputTokens => 10, outputTokens => 5}, costUsd => 0.01,
                                      sessionId => 'http-session', resultJson => {summary => 'done over http'}}));
    } elsif ($path eq '/echo') {
        my $req = eval { decode_json($body) } // $body;
        respond($c, 200, encode_json({resultJson => {method => $method, body => $req, headers => \%h}}));
    } elsif ($path eq '/text') {
        respond($c, 200, "plain words, not JSON", 'Content-Type' => 'text/plain');
    } elsif ($path eq '/async') {
        respond($c, 202, '{"async":true}');
    } elsif ($path =~ m{^/status/(\d+)$}) {
        respond($c, $1, encode_json({error => "status $1"}));
    } elsif ($path =~ m{^/slow/(\d+)$}) {
        usleep($1 * 1000);
        respond($c, 200, '{"resultJson":{"summary":"slow"}}');
    } elsif ($path eq '/huge') {
        print $c "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n";
        print $c ('x' x 65536) for 1 .. 80;
    } elsif ($path eq '/manyheaders') {
        respond($c, 200, '{}', map { sprintf('X-Filler-%03d', $_) => ('y' x 1024) } 1 .. 100);
    } elsif ($path eq '/hugeheader') {
        respond($c, 200, '{}', 'X-Huge' => ('z' x 204800));
    } elsif ($path =~ m{^/redirect/(\d+)$}) {
        my $code = $1;
        my ($to) = $query =~ /^to=(.*)$/;
        $to //= '/ok';
        $to =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
        respond($c, $code, '', Location => $to);
    } else {
        respond($c, 404, '{"error":"no such route"}');
    }
    close $c;
}
