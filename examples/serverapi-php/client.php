<?php
// Parlor server API client in PHP: the seed's sample client, adapted to run
// on current PHP and parameterised (see README.md beside this file).
//
//   PARLOR_API_PASSWORD=... php client.php [TYPE [key=value ...]]
//
// Without arguments it sends the seed's add_room sample. The exit status is
// the reply's result code (0 done), 1 when the server cannot be reached or
// the reply is not XML, 2 for bad usage.

$host = getenv("PARLOR_API_HOST") ?: "127.0.0.1";
$port = (int) (getenv("PARLOR_API_PORT") ?: 51127);
$group = getenv("PARLOR_API_GROUP") ?: "default";
$apiPwd = getenv("PARLOR_API_PASSWORD");
if ($apiPwd === false || $apiPwd === "") {
    fwrite(STDERR, "Set PARLOR_API_PASSWORD to the group's api_pwd (server_api.groups.$group.api_pwd).\n");
    exit(2);
}

$type = $argv[1] ?? "add_room";
$params = array_slice($argv, 2);
if ($type === "add_room" && count($params) === 0) {
    // The seed's sample room.
    $params = ["name=test room", "owner=aaa", "desc=room for test", "max=200", "speaker=bbb",
        "member=false", "pwd=", "passallmessage=true"];
}
$x = fn($s) => htmlspecialchars($s, ENT_QUOTES | ENT_XML1, "UTF-8");
$apiCommand = '<?xml version="1.0" encoding="UTF-8"?><Command group="' . $x($group) . '" api_pwd="' . $x($apiPwd)
    . '" type="' . $x($type) . '"';
foreach ($params as $p) {
    $kv = explode("=", $p, 2);
    if (count($kv) !== 2 || $kv[0] === "") {
        fwrite(STDERR, "Argument '$p' is not key=value.\n");
        exit(2);
    }
    $apiCommand .= ' ' . $kv[0] . '="' . $x($kv[1]) . '"';
}
$apiCommand .= ' />';

$result = "";
$resultDoc = "";
$fp = @fsockopen($host, $port, $errno, $errstr, 2);
if(!$fp)
{
echo "Failed to excute api command,maybe host chat server is not started ($errstr)\n";
exit(1);
}
else
{
fputs($fp,$apiCommand."\0");
while (!feof($fp))
{
$resultDoc .= fgets($fp, 1024);
$resultDoc = rtrim($resultDoc);
}
$parser = xml_parser_create("UTF-8");
xml_parser_set_option($parser, XML_OPTION_CASE_FOLDING, 0);
xml_parser_set_option($parser, XML_OPTION_SKIP_WHITE, 1);
if (!xml_parse_into_struct($parser, $resultDoc, $values, $tags))
{
printf("XML error: %s at line %d while parsing entity\n",
xml_error_string(xml_get_error_code($parser)),
xml_get_current_line_number($parser));
echo "xml parse error\n";
fclose($fp);
exit(1);
}
else
{
print_r($values);
xml_parser_free($parser);
fclose($fp);
}
}
exit((int) ($values[0]["attributes"]["code"] ?? 1));
