-- wrk script for `just bench`: the load-test mix's seven requests in turn (create → get → pair;
-- create → get → delete → get) with the mix's bodies and paths, sent to the ceiling app, which
-- keeps no records and echoes the entity as the token. wrk does not check the answers (the last
-- get of each round is a 404 by design); it is here to show how fast the ceiling app goes under
-- a generator much lighter than tandem-mix, so that the ceiling is known to be the server's.

local json = { ["Content-Type"] = "application/json" }
local round = 0
local step = 0
local entity, path

request = function()
  step = step % 7 + 1
  if step == 1 or step == 4 then
    round = round + 1
    entity = "mix-0-" .. round
    path = "/v1/tokens/" .. entity
    return wrk.format("POST", "/v1/tokens", json, '{"entity":"' .. entity .. '"}')
  elseif step == 3 then
    return wrk.format("POST", path .. "/pair", json, '{"entity":"' .. entity .. '-b"}')
  elseif step == 6 then
    return wrk.format("DELETE", path)
  else
    return wrk.format("GET", path)
  end
end
