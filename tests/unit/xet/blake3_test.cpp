// SPDX-License-Identifier: Apache-2.0
#include "xet/blake3.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hfm::xet {
namespace {

// Official BLAKE3 test vectors (BLAKE3-team/BLAKE3 test_vectors/test_vectors.json): input byte i
// is i % 251, and each output is the 131-byte extended output.
struct OfficialVector {
  std::size_t input_len;
  std::string_view hash;
  std::string_view keyed_hash;
};

constexpr OfficialVector kOfficialVectors[] = {
    {0,
     "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262e00f03e7b69af26b7faaf09f"
     "cd333050338ddfe085b8cc869ca98b206c08243a26f5487789e8f660afe6c99ef9e0c52b92e7393024a80459"
     "cf91f476f9ffdbda7001c22e159b402631f277ca96f2defdf1078282314e763699a31c5363165421cce14d",
     "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26b18171a2f22a4b94822c701f"
     "107153dba24918c4bae4d2945c20ece13387627d3b73cbf97b797d5e59948c7ef788f54372df45e45e4293c7"
     "dc18c1d41144a9758be58960856be1eabbe22c2653190de560ca3b2ac4aa692a9210694254c371e851bc8f"},
    {1,
     "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213c3a6cb8bf623e20cdb535f8d"
     "1a5ffb86342d9c0b64aca3bce1d31f60adfa137b358ad4d79f97b47c3d5e79f179df87a3b9776ef8325f8329"
     "886ba42f07fb138bb502f4081cbcec3195c5871e6c23e2cc97d3c69a613eba131e5f1351f3f1da786545e5",
     "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b6568c0490609413006fbd428"
     "eb3fd14e7756d90f73a4725fad147f7bf70fd61c4e0cf7074885e92b0e3f125978b4154986d4fb202a3f331a"
     "3fb6cf349a3a70e49990f98fe4289761c8602c4e6ab1138d31d3b62218078b2f3ba9a88e1d08d0dd4cea11"},
    {1023,
     "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11a182d27a591b05592b156075"
     "00e1e8dd56bc6c7fc063715b7a1d737df5bad3339c56778957d870eb9717b57ea3d9fb68d1b55127bba6a906"
     "a4a24bbd5acb2d123a37b28f9e9a81bbaae360d58f85e5fc9d75f7c370a0cc09b6522d9c8d822f2f28f485",
     "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e890316d2e6d8b8c25b0a5b21"
     "80f94fb1a158ef508c3cde45e2966bd796a696d3e13efd86259d756387d9becf5c8bf1ce2192b87025152907"
     "b6d8cc33d17826d8b7b9bc97e38c3c85108ef09f013e01c229c20a83d9e8efac5b37470da28575fd755a10"},
    {1024,
     "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af71cf8107265ecdaf8505b95d8"
     "fcec83a98a6a96ea5109d2c179c47a387ffbb404756f6eeae7883b446b70ebb144527c2075ab8ab204c0086b"
     "b22b7c93d465efc57f8d917f0b385c6df265e77003b85102967486ed57db5c5ca170ba441427ed9afa684e",
     "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4a78bc838c72852d4f49c864a"
     "cb7adafe2478e824afe51c8919d06168414c265f298a8094b1ad813a9b8614acabac321f24ce61c5a5346eb5"
     "19520d38ecc43e89b5000236df0597243e4d2493fd626730e2ba17ac4d8824d09d1a4a8f57b8227778e2de"},
    {1025,
     "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444f4c4a22b4b399155358a994e"
     "52bf255de60035742ec71bd08ac275a1b51cc6bfe332b0ef84b409108cda080e6269ed4b3e2c3f7d722aa4cd"
     "c98d16deb554e5627be8f955c98e1d5f9565a9194cad0c4285f93700062d9595adb992ae68ff12800ab67a",
     "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69362396b77fdc0d2634a55297"
     "0843722066c3c15902ae5097e00ff53f1e116f1cd5352720113a837ab2452cafbde4d54085d9cf5d21ca6130"
     "71551b25d52e69d6c81123872b6f19cd3bc1333edf0c52b94de23ba772cf82636cff4542540a7738d5b930"},
    {2048,
     "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a9a60bf80001410ec9eea6698"
     "cd537939fad4749edd484cb541aced55cd9bf54764d063f23f6f1e32e12958ba5cfeb1bf618ad094266d4fc3"
     "c968c2088f677454c288c67ba0dba337b9d91c7e1ba586dc9a5bc2d5e90c14f53a8863ac75655461cea8f9",
     "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd10173b961cd574288194b23ec"
     "e278c330fbb8585485e74967f31352a8183aa782b2b22f26cdcadb61eed1a5bc144b8198fbb0c13abbf8e319"
     "2c145d0a5c21633b0ef86054f42809df823389ee40811a5910dcbd1018af31c3b43aa55201ed4edaac74fe"},
    {2049,
     "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b687952256303096de31d71d74103403822a2e"
     "0bc1eb193e7aecc9643a76b7bbc0c9f9c52e8783aae98764ca468962b5c2ec92f0c74eb5448d519713e09413"
     "719431c802f948dd5d90425a4ecdadece9eb178d80f26efccae630734dff63340285adec2aed3b51073ad3",
     "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5f9a88abfefdfa1e00b418971"
     "f2b39c64ca621e8eb37fceac57fd0c8fc8e117d43b81447be22d5d8186f8f5919ba6bcc6846bd7d50726c06d"
     "245672c2ad4f61702c646499ee1173daa061ffe15bf45a631e2946d616a4c345822f1151284712f76b2b0e"},
    {3072,
     "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd29a3f6b0b978d6608335c09dc"
     "94ccf682f9951cdfc501bfe47b9c9189a6fc7b404d120258506341a6d802857322fbd20d3e5dae05b95c8879"
     "3fa83db1cb08e7d8008d1599b6209d78336e24839724c191b2a52a80448306e0daa84a3fdb566661a37e11",
     "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df19177022f302d0529e4174cc507c46"
     "3671217975e81dab02b8fdeb0d7ccc7568dd22574c783a76be215441b32e91b9a904be8ea81f7a0afd14bad8"
     "ee7c8efc305ace5d3dd61b996febe8da4f56ca0919359a7533216e2999fc87ff7d8f176fbecb3d6f34278b"},
    {3073,
     "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd39a27ae3b79d68d89da9bf25b"
     "c27139ae65a324918a5f9b7828181e52cf373c84f35b639b7fccbb985b6f2fa56aea0c18f531203497b8bbd3"
     "a07ceb5926f1cab74d14bd66486d9a91eba99059a98bd1cd25876b2af5a76c3e9eed554ed72ea952b603bf",
     "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a96d6da3fe985054d3478865b"
     "e9a092250839a697bbda74e279e8a9e69f0025e4cfddd6cfb434b1cd9543aaf97c635d1b451a4386041e4bb1"
     "00f5e45407cbbc24fa53ea2de3536ccb329e4eb9466ec37093a42cf62b82903c696a93a50b702c80f3c3c5"},
    {4096,
     "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e9690289e9409ddb1b99768eafe1"
     "623da896faf7e1114bebeadc1be30829b6f8af707d85c298f4f0ff4d9438aef948335612ae921e76d411c3a9"
     "111df62d27eaf871959ae0062b5492a0feb98ef3ed4af277f5395172dbe5c311918ea0074ce0036454f620",
     "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0bbb64a36edb564e01e4b4aaf"
     "3b060092a6b838bea44afebd2deb8298fa562b7b597c757b9df4c911c3ca462e2ac89e9a787357aaf74c3b56"
     "d5c07bc93ce899568a3eb17d9250c20f6c5f6c1e792ec9a2dcb715398d5a6ec6d5c54f586a00403a1af1de"},
    {4097,
     "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb99505f91b0b5600a11251652eac"
     "fa9497b31cd3c409ce2e45cfe6c0a016967316c426bd26f619eab5d70af9a418b845c608840390f361630bd4"
     "97b1ab44019316357c61dbe091ce72fc16dc340ac3d6e009e050b3adac4b5b2c92e722cffdc46501531956",
     "00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc606db4976cfdd266ae0abf66"
     "7d9481831ff12e0caa268e7d3e57260c0824115a54ce595ccc897786d9dcbf495599cfd90157186a46ec800a"
     "6763f1c59e36197e9939e900809f7077c102f888caaf864b253bc41eea812656d46742e4ea42769f89b83f"},
    {5120,
     "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833acc61c8fdc114a2010ce8038"
     "c853e121e1544985133fccdd0a2d507e8e615e611e9a0ba4f47915f49e53d721816a9198e8b30f12d20ec368"
     "9989175f1bf7a300eee0d9321fad8da232ece6efb8e9fd81b42ad161f6b9550a069e66b11b40487a5f5059",
     "2c493e48e9b9bf31e0553a22b23503c0a3388f035cece68eb438d22fa1943e209b4dc9209cd80ce7c1f7c9a7"
     "44658e7e288465717ae6e56d5463d4f80cdb2ef56495f6a4f5487f69749af0c34c2cdfa857f3056bf8d80733"
     "6a14d7b89bf62bef2fb54f9af6a546f818dc1e98b9e07f8a5834da50fa28fb5874af91bf06020d1bf0120e"},
    {5121,
     "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff96adaab0613a6146cdaabe49"
     "8c3a94e529d3fc1da2bd08edf54ed64d40dcd6777647eac51d8277d70219a9694334a68bc8f0f23e20b0ff70"
     "ada6f844542dfa32cd4204ca1846ef76d811cdb296f65e260227f477aa7aa008bac878f72257484f2b6c95",
     "6ccf1c34753e7a044db80798ecd0782a8f76f33563accaddbfbb2e0ea4b2d0240d07e63f13667a8d1490e5e0"
     "4f13eb617aea16a8c8a5aaed1ef6fbde1b0515e3c81050b361af6ead126032998290b563e3caddeaebfab592"
     "e155f2e161fb7cba939092133f23f9e65245e58ec23457b78a2e8a125588aad6e07d7f11a85b88d375b72d"},
    {6144,
     "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca2054d742022da6fdda444ebc384"
     "b04a54c3ac5839b49da7d39f6d8a9db03deab32aade156c1c0311e9b3435cde0ddba0dce7b26a376cad12129"
     "4b689193508dd63151603c6ddb866ad16c2ee41585d1633a2cea093bea714f4c5d6b903522045b20395c83",
     "3d6b6d21281d0ade5b2b016ae4034c5dec10ca7e475f90f76eac7138e9bc8f1dc35754060091dc5caf3efabe"
     "0603c60f45e415bb3407db67e6beb3d11cf8e4f7907561f05dace0c15807f4b5f389c841eb114d81a82c02a0"
     "0b57206b1d11fa6e803486b048a5ce87105a686dee041207e095323dfe172df73deb8c9532066d88f9da7e"},
    {6145,
     "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f18a2cfdd73c6e39dd75ce7c1"
     "c6e3ef238fd54465f053b25d21044ccb2093beb015015532b108313b5829c3621ce324b8e14229091b7c93f3"
     "2db2e4e63126a377d2a63a3597997d4f1cba59309cb4af240ba70cebff9a23d5e3ff0cdae2cfd54e070022",
     "9ac301e9e39e45e3250a7e3b3df701aa0fb6889fbd80eeecf28dbc6300fbc539f3c184ca2f59780e27a576c1"
     "d1fb9772e99fd17881d02ac7dfd39675aca918453283ed8c3169085ef4a466b91c1649cc341dfdee60e32231"
     "fc34c9c4e0b9a2ba87ca8f372589c744c15fd6f985eec15e98136f25beeb4b13c4e43dc84abcc79cd4646c"},
    {7168,
     "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a5707c321c83361793b9af62a"
     "40f43b523df1c8633cecb4cd14d00bdc79c78fca5165b863893f6d38b02ff7236c5a9a8ad2dba87d24c547ca"
     "b046c29fc5bc1ed142e1de4763613bb162a5a538e6ef05ed05199d751f9eb58d332791b8d73fb74e4fce95",
     "b42835e40e9d4a7f42ad8cc04f85a963a76e18198377ed84adddeaecacc6f3fca2f01d5277d69bb681c70fa8"
     "d36094f73ec06e452c80d2ff2257ed82e7ba348400989a65ee8daa7094ae0933e3d2210ac6395c4af24f91c2"
     "b590ef87d7788d7066ea3eaebca4c08a4f14b9a27644f99084c3543711b64a070b94f2c9d1d8a90d035d52"},
    {7169,
     "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e781798a8b20534be1ca9eb2ae2df"
     "3fae2ea60e48c6fb0b850b1385b5de0fe460dbe9d9f9b0d8db4435da75c601156df9d047f4ede008732eb17a"
     "dc05d96180f8a73548522840779e6062d643b79478a6e8dbce68927f36ebf676ffa7d72d5f68f050b119c8",
     "ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa5113c9e28d72fcbfc020814ce3f"
     "5d4fc867f01c8f5b6caf305b3ea8a8ba2da3ab69fabcb438f19ff11f5378ad4484d75c478de425fb8e6ee809"
     "b54eec9bdb184315dc856617c09f5340451bf42fd3270a7b0b6566169f242e533777604c118a6358250f54"},
    {8192,
     "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a635fe51a27db045a567c1ad51b"
     "e5aa34c01c6651c4d9b5b5ac5d0fd58cf18dd61a47778566b797a8c67df7b1d60b97b19288d2d877bb2df417"
     "ace009dcb0241ca1257d62712b6a4043b4ff33f690d849da91ea3bf711ed583cb7b7a7da2839ba71309bbf",
     "dc9637c8845a770b4cbf76b8daec0eebf7dc2eac11498517f08d44c8fc00d58a4834464159dcbc12a0ba0c6d"
     "6eb41bac0ed6585cabfe0aca36a375e6c5480c22afdc40785c170f5a6b8a1107dbee282318d00d915ac9ed11"
     "43ad40765ec120042ee121cd2baa36250c618adaf9e27260fda2f94dea8fb6f08c04f8f10c78292aa46102"},
    {8193,
     "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3bb2282aa69be089359ea1154b"
     "9a9286c4a56af4de975a9aa4a5c497654914d279bea60bb6d2cf7225a2fa0ff5ef56bbe4b149f3ed15860f78"
     "b4e2ad04e158e375c1e0c0b551cd7dfc82f1b155c11b6b3ed51ec9edb30d133653bb5709d1dbd55f4e1ff6",
     "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5f03228648fd983aef045c2fa"
     "8290934b0866b615f585149587dda2299039965328835a2b18f1d63b7e300fc76ff260b571839fe44876a4ea"
     "e66cbac8c67694411ed7e09df51068a22c6e67d6d3dd2cca8ff12e3275384006c80f4db68023f24eebba57"},
    {16384,
     "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde49d764c270176e53e97bdffa5"
     "8d549073f2c660be0e81293767ed4e4929f9ad34bbb39a529334c57c4a381ffd2a6d4bfdbf1482651b172aa8"
     "83cc13408fa67758a3e47503f93f87720a3177325f7823251b85275f64636a8f1d599c2e49722f42e93893",
     "9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0df9e601b101e4cf63a404dfe5"
     "0f2e1865bb12edc8fca166579ce0c70dba5a5c0fc960ad6f3772183416a00bd29d4c6e651ea7620bb100c944"
     "9858bf14e1ddc9ecd35725581ca5b9160de04060045993d972571c3e8f71e9d0496bfa744656861b169d65"},
    {31744,
     "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47860cc51f2b0c28a7b77304bd"
     "55fe73af663c02d3f52ea053ba43431ca5bab7bfea2f5e9d7121770d88f70ae9649ea713087d1914f7f31214"
     "7e247f87eb2d4ffef0ac978bf7b6579d57d533355aa20b8b77b13fd09748728a5cc327a8ec470f4013226f",
     "efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a4193a7258db2d9cd32a7a3ecfce"
     "46144114b15c2fcb68a618a976bd74515d47be08b628be420b5e830fade7c080e351a076fbc38641ad80c736"
     "c8a18fe3c66ce12f95c61c2462a9770d60d0f77115bbcd3782b593016a4e728d4c06cee4505cb0c08a42ec"},
    {102400,
     "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085e01c59dab908c04c3342b816"
     "941a26d69c2605ebee5ec5291cc55e15b76146e6745f0601156c3596cb75065a9c57f35585a52e1ac70f6913"
     "1c23d611ce11ee4ab1ec2c009012d236648e77be9295dd0426f29b764d65de58eb7d01dd42248204f45f8e",
     "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7f9dbdd3e1d81dcbca3ba241b"
     "b18760f207710b751846faaeb9dff8262710999a59b2aa1aca298a032d94eacfadf1aa192418eb54808db23b"
     "56e34213266aa08499a16b354f018fc4967d05f8b9d2ad87a7278337be9693fc638a3bfdbe314574ee6fc4"},
};

constexpr std::string_view kOfficialKey = "whats the Elvish word for friend";
constexpr std::size_t kVectorOutLen = 131;

Blake3Key officialKey() {
  Blake3Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<std::uint8_t>(kOfficialKey[i]);
  }
  return key;
}

std::vector<std::uint8_t> vectorInput(std::size_t len) {
  std::vector<std::uint8_t> input(len);
  for (std::size_t i = 0; i < len; ++i) {
    input[i] = static_cast<std::uint8_t>(i % 251);
  }
  return input;
}

std::vector<std::uint8_t> randomBytes(std::mt19937_64& rng, std::size_t len) {
  std::vector<std::uint8_t> out(len);
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < len; ++i) {
    word = i % 8 == 0 ? rng() : word >> 8;
    out[i] = static_cast<std::uint8_t>(word);
  }
  return out;
}

std::string toHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const std::uint8_t b : bytes) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

std::string xofHex(const Blake3& hasher, std::size_t len) {
  std::vector<std::uint8_t> out(len);
  hasher.finalize(out);
  return toHex(out);
}

std::string oneShotHex(Blake3Backend backend, const Blake3Key* key,
                       std::span<const std::uint8_t> data, std::size_t out_len) {
  Blake3 hasher(backend, key);
  hasher.update(data);
  return xofHex(hasher, out_len);
}

TEST(Blake3Test, BackendsStartWithPortable) {
  const std::vector<Blake3Backend> backends = availableBlake3Backends();
  ASSERT_FALSE(backends.empty());
  EXPECT_EQ(backends.front(), Blake3Backend::kPortable);
  for (const Blake3Backend b : backends) {
    EXPECT_FALSE(blake3BackendName(b).empty());
  }
}

TEST(Blake3Test, OfficialVectorsEveryBackend) {
  const Blake3Key key = officialKey();
  for (const Blake3Backend backend : availableBlake3Backends()) {
    SCOPED_TRACE(blake3BackendName(backend));
    for (const OfficialVector& v : kOfficialVectors) {
      SCOPED_TRACE(v.input_len);
      const std::vector<std::uint8_t> input = vectorInput(v.input_len);
      Blake3 plain(backend, nullptr);
      plain.update(input);
      EXPECT_EQ(xofHex(plain, kVectorOutLen), v.hash);
      EXPECT_EQ(toHex(plain.finalize()), v.hash.substr(0, 64));
      Blake3 keyed(backend, &key);
      keyed.update(input);
      EXPECT_EQ(xofHex(keyed, kVectorOutLen), v.keyed_hash);
      EXPECT_EQ(toHex(keyed.finalize()), v.keyed_hash.substr(0, 64));
    }
  }
}

TEST(Blake3Test, OneShotHelpersUseTheDefaultBackend) {
  const Blake3Key key = officialKey();
  for (const OfficialVector& v : kOfficialVectors) {
    const std::vector<std::uint8_t> input = vectorInput(v.input_len);
    EXPECT_EQ(toHex(blake3Hash(input)), v.hash.substr(0, 64));
    EXPECT_EQ(toHex(blake3KeyedHash(key, input)), v.keyed_hash.substr(0, 64));
  }
}

// XET.md section 7.3.
TEST(Blake3Test, XetDocSanityValues) {
  EXPECT_EQ(toHex(blake3Hash({})),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  EXPECT_EQ(toHex(blake3KeyedHash(officialKey(), {})),
            "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26");
}

TEST(Blake3Test, ShorterOutputIsAPrefixOfLongerOutput) {
  const std::vector<std::uint8_t> input = vectorInput(3000);
  for (const Blake3Backend backend : availableBlake3Backends()) {
    Blake3 hasher(backend, nullptr);
    hasher.update(input);
    const std::string longest = xofHex(hasher, 1000);
    for (const std::size_t len :
         {0UL, 1UL, 31UL, 32UL, 33UL, 63UL, 64UL, 65UL, 128UL, 129UL, 999UL}) {
      EXPECT_EQ(xofHex(hasher, len), longest.substr(0, 2 * len)) << len;
    }
  }
}

// Feeds data in pieces whose sizes mix single bytes, sub-block, sub-chunk and multi-chunk runs.
void updateInRandomPieces(Blake3& hasher, std::span<const std::uint8_t> data,
                          std::mt19937_64& rng) {
  while (!data.empty()) {
    std::size_t piece = 0;
    switch (rng() % 4) {
      case 0:
        piece = 1;
        break;
      case 1:
        piece = 1 + rng() % 64;
        break;
      case 2:
        piece = 1 + rng() % 3000;
        break;
      default:
        piece = 1 + rng() % 70000;
        break;
    }
    piece = std::min(piece, data.size());
    hasher.update(data.first(piece));
    data = data.subspan(piece);
  }
}

TEST(Blake3Test, EveryBackendAgreesWithPortableOnRandomSplits) {
  std::mt19937_64 rng(20261126);
  const Blake3Key key = officialKey();
  for (int trial = 0; trial < 40; ++trial) {
    const std::size_t len = trial % 3 == 0 ? rng() % 2100 : rng() % 200000;
    const std::vector<std::uint8_t> data = randomBytes(rng, len);
    const Blake3Key* k = trial % 2 == 0 ? &key : nullptr;
    const std::string expected = oneShotHex(Blake3Backend::kPortable, k, data, 131);
    for (const Blake3Backend backend : availableBlake3Backends()) {
      SCOPED_TRACE(blake3BackendName(backend));
      EXPECT_EQ(oneShotHex(backend, k, data, 131), expected) << "len " << len;
      Blake3 hasher(backend, k);
      updateInRandomPieces(hasher, data, rng);
      EXPECT_EQ(xofHex(hasher, 131), expected) << "len " << len;
    }
  }
}

TEST(Blake3Test, OneByteUpdatesMatchOneShot) {
  const std::vector<std::uint8_t> data = vectorInput(5 * 1024 + 3);
  const Blake3Key key = officialKey();
  for (const Blake3Backend backend : availableBlake3Backends()) {
    Blake3 hasher(backend, &key);
    for (const std::uint8_t b : data) {
      hasher.update(std::span<const std::uint8_t>(&b, 1));
    }
    EXPECT_EQ(xofHex(hasher, 131), oneShotHex(Blake3Backend::kPortable, &key, data, 131))
        << blake3BackendName(backend);
  }
}

// Whole-chunk pieces end updates exactly on chunk boundaries, where the hasher cannot yet know
// whether the last chunk or subtree it saw is part of the root; the one-shot path is checked
// against b3sum below.
TEST(Blake3Test, ChunkAlignedUpdatesMatchOneShot) {
  std::mt19937_64 rng(99);
  const Blake3Key key = officialKey();
  const std::vector<std::uint8_t> data = randomBytes(rng, 140 * 1024 + 5);
  const auto whole = std::span<const std::uint8_t>(data);
  for (const Blake3Backend backend : availableBlake3Backends()) {
    SCOPED_TRACE(blake3BackendName(backend));
    for (const std::size_t piece : {1024UL, 3072UL, 8192UL, 65536UL, 1023UL}) {
      for (const std::size_t len : {1024UL, 2048UL, 3072UL, 4096UL, 7168UL, 65536UL, 66560UL,
                                    131072UL, 140UL * 1024, 140UL * 1024 + 5}) {
        Blake3 hasher(backend, &key);
        for (std::size_t off = 0; off < len; off += piece) {
          hasher.update(whole.subspan(off, std::min(piece, len - off)));
        }
        EXPECT_EQ(xofHex(hasher, 131),
                  oneShotHex(Blake3Backend::kPortable, &key, whole.first(len), 131))
            << "piece " << piece << " len " << len;
      }
    }
  }
}

std::vector<std::uint8_t> concat(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  std::vector<std::uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

TEST(Blake3Test, CopyForksTheStream) {
  std::mt19937_64 rng(7);
  const std::vector<std::uint8_t> data = randomBytes(rng, 200000);
  const auto whole = std::span<const std::uint8_t>(data);
  const auto tail_a = whole.first(5000);
  const auto tail_b = whole.subspan(5000);
  for (const Blake3Backend backend : availableBlake3Backends()) {
    SCOPED_TRACE(blake3BackendName(backend));
    for (const std::size_t cut : {0UL, 1UL, 1024UL, 1025UL, 65536UL, 100001UL}) {
      const auto prefix = whole.subspan(whole.size() - cut);
      Blake3 first(backend, nullptr);
      first.update(prefix);
      Blake3 second = first;
      first.update(tail_a);
      second.update(tail_b);
      EXPECT_EQ(first.finalize(), blake3Hash(concat(prefix, tail_a))) << cut;
      EXPECT_EQ(second.finalize(), blake3Hash(concat(prefix, tail_b))) << cut;
    }
  }
}

TEST(Blake3Test, FinalizeLeavesTheHasherUsable) {
  const std::vector<std::uint8_t> data = vectorInput(10000);
  const auto whole = std::span<const std::uint8_t>(data);
  Blake3 hasher;
  hasher.update(whole.first(4000));
  EXPECT_EQ(hasher.finalize(), blake3Hash(whole.first(4000)));
  hasher.update(whole.subspan(4000));
  EXPECT_EQ(hasher.finalize(), blake3Hash(whole));
}

// The first hashers of a process pick the backend (a function-local static); under TSan this
// shows that the choice and the shared constant tables are safe to reach from many threads.
TEST(Blake3Test, HashersOnManyThreadsAgree) {
  const std::vector<std::uint8_t> data = vectorInput(70000);
  // Portable on purpose: the default backend's first use should happen on the threads.
  const Blake3Key key = officialKey();
  Blake3 reference(Blake3Backend::kPortable, &key);
  reference.update(data);
  const Blake3Digest expected = reference.finalize();
  std::vector<Blake3Digest> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&data, &results, t] {
      for (int i = 0; i < 20; ++i) {
        results[t] = blake3KeyedHash(officialKey(), data);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (const Blake3Digest& digest : results) {
    EXPECT_EQ(digest, expected);
  }
}

// A scratch directory removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "blake3_test.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  ~ScratchDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void writeFile(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Runs a shell command and returns the first word it prints (b3sum --no-names prints the hex).
std::string runForWord(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {};
  }
  std::string output;
  char buf[512];
  std::size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
    output.append(buf, n);
  }
  pclose(pipe);
  return output.substr(0, output.find_first_of(" \n"));
}

constexpr const char* kB3sum = "/usr/bin/b3sum";

TEST(Blake3Test, MatchesTheB3sumBinary) {
  if (access(kB3sum, X_OK) != 0) {
    GTEST_SKIP() << "b3sum is not installed";
  }
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::filesystem::path key_path = dir.path() / "key";
  const std::filesystem::path input_path = dir.path() / "input";
  std::mt19937_64 rng(42);
  const Blake3Key key = [&rng] {
    Blake3Key k{};
    for (auto& b : k) {
      b = static_cast<std::uint8_t>(rng());
    }
    return k;
  }();
  writeFile(key_path, key);
  const std::string base =
      std::string(kB3sum) + " --no-names --length 131 '" + input_path.string() + "'";
  for (const std::size_t len : {0UL,
                                1UL,
                                63UL,
                                64UL,
                                65UL,
                                127UL,
                                1000UL,
                                1023UL,
                                1024UL,
                                1025UL,
                                2047UL,
                                2049UL,
                                3000UL,
                                4097UL,
                                8191UL,
                                12345UL,
                                65535UL,
                                65536UL,
                                65537UL,
                                100000UL,
                                131077UL,
                                1UL << 20,
                                2 * (1UL << 20) + 1,
                                3 * (1UL << 20) + 777}) {
    SCOPED_TRACE(len);
    const std::vector<std::uint8_t> data = randomBytes(rng, len);
    writeFile(input_path, data);
    const std::string plain = runForWord(base);
    const std::string keyed = runForWord(base + " --keyed < '" + key_path.string() + "'");
    ASSERT_EQ(plain.size(), 262U);
    ASSERT_EQ(keyed.size(), 262U);
    for (const Blake3Backend backend : availableBlake3Backends()) {
      SCOPED_TRACE(blake3BackendName(backend));
      EXPECT_EQ(oneShotHex(backend, nullptr, data, 131), plain);
      Blake3 hasher(backend, &key);
      hasher.update(data);
      EXPECT_EQ(xofHex(hasher, 131), keyed);
      EXPECT_EQ(toHex(hasher.finalize()), keyed.substr(0, 64));
    }
  }
}

}  // namespace
}  // namespace hfm::xet
